"""A model's YAML `gate:` is the gate of its training and retraining runs, and only of its own:
`car_loan` declares a floor no candidate reaches and is refused by it, while the default model
beside it keeps GateConfig's defaults and promotes. Run config still changes the gate for one
run. The car-loan sample is the one the tests ship (Apache-2.0, from NannyML)."""

from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.asset_keys import DEFAULT, ModelNames
from mlops_assets.components import MlopsModel
from mlops_assets.contracts import CHAMPION_ALIAS, GATE_DECISION_TAG
from mlops_assets.definitions import build_defs
from mlops_assets.defs.champion.registry import PromotionConfig, PromotionGate
from mlops_assets.domain.promotion import GateConfig
from mlops_assets.resources.data_source import TrainingDataSource
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.settings import Settings
from mlops_assets_tests.conftest import Project

CAR_LOAN = Path(__file__).resolve().parents[1] / "data" / "car_loan"
CAR_LOAN_NAMES = ModelNames("car_loan")

# No model reaches a ROC AUC of 0.9999 on the car-loan sample (about 0.9): every candidate
# fails the floor, whatever the champion.
CAR_LOAN_YAML = f"""
name: car_loan
training:
  location: {CAR_LOAN / "train.csv"}
  target: repaid
  timestamp_column: timestamp
scoring:
  location: {CAR_LOAN / "days"}
gate:
  min_metrics:
    roc_auc: 0.9999
  min_improvement: 0.5
"""


def _two_models() -> dg.Definitions:
    car_loan = dg.build_defs_for_component(MlopsModel.resolve_from_yaml(CAR_LOAN_YAML))
    return dg.Definitions.merge(build_defs(Settings.from_env()), car_loan)


def _metadata(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, object]:
    (record,) = instance.fetch_materializations(key, limit=2).records
    materialization = record.asset_materialization
    assert materialization is not None
    return {name: value.value for name, value in materialization.metadata.items()}


def test_each_models_gate_is_its_own_resource_read_by_training_and_retraining():
    defs = _two_models()

    declared, default = defs.resources["car_loan__promotion_gate"], defs.resources["promotion_gate"]
    assert isinstance(declared, PromotionGate) and isinstance(default, PromotionGate)
    assert (declared.min_metrics, declared.min_improvement) == ({"roc_auc": 0.9999}, 0.5)
    assert GateConfig(**default.model_dump()) == GateConfig()
    for names in (CAR_LOAN_NAMES, DEFAULT):
        asset = defs.get_assets_def(names.registered_model_version)
        assert names.resource("promotion_gate") in asset.required_resource_keys
        # The retraining the sensor starts materialises the same asset, so the same gate.
        for job in ("training_job", "retraining_job"):
            selected = defs.resolve_job_def(names.job(job)).asset_layer.selected_asset_keys
            assert names.registered_model_version in selected


def test_run_config_changes_the_models_gate_for_one_run_field_by_field():
    gate = GateConfig(min_metrics={"roc_auc": 0.9999}, min_improvement=0.5)

    assert PromotionConfig().applied_to(gate) == gate
    changed = PromotionConfig(min_metrics={"roc_auc": 0.6}).applied_to(gate)
    assert (changed.min_metrics, changed.min_improvement) == ({"roc_auc": 0.6}, 0.5)
    # One set of field names: a field added to GateConfig must be settable per run too.
    assert set(PromotionConfig.model_fields) == set(GateConfig.model_fields)


@pytest.mark.slow
def test_a_declared_models_gate_refuses_its_candidate_while_the_default_model_promotes(
    project: Project,
):
    defs = _two_models()

    default = defs.resolve_job_def("training_job").execute_in_process(
        instance=project.instance,
        resources={"data_source": TrainingDataSource(synthetic_rows=1500)},
        raise_on_error=False,
    )
    car_loan = defs.resolve_job_def("car_loan__training_job").execute_in_process(
        instance=project.instance, raise_on_error=False
    )

    assert default.success and car_loan.success
    # In MLflow: car_loan's first version holds no alias, refused by its own gate's floor;
    # the default model's first version is champion under the default gate.
    (refused,) = MlflowRegistry(model_name="car_loan").versions()
    assert (refused.version, refused.aliases) == ("1", ())
    assert refused.tags[GATE_DECISION_TAG] == "rejected"
    (promoted,) = MlflowRegistry(model_name="credit-default").versions()
    assert promoted.aliases == (CHAMPION_ALIAS,)
    # In Dagster: the gate's outcome, the failed check and the gate it judged by.
    registered = _metadata(project.instance, CAR_LOAN_NAMES.registered_model_version)
    assert registered["gate_outcome"] == "rejected"
    assert "| min:roc_auc | no |" in str(registered["decision"])
    assert "| min_metrics | roc_auc 0.9999 |" in str(registered["gate"])
    assert "| min_improvement | 0.5 |" in str(registered["gate"])
    default_registered = _metadata(project.instance, DEFAULT.registered_model_version)
    assert default_registered["gate_outcome"] == "promoted"
    assert "| min_metrics | roc_auc 0.6 |" in str(default_registered["gate"])
    assert "| min_improvement | 0 |" in str(default_registered["gate"])
