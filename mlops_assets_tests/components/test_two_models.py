"""Two models in one code location: the default one from the environment and `car_loan`
declared in YAML (the car-loan sample this package ships, Apache-2.0, from NannyML), each
trained by its own job into its own registered model and its own stored files."""

from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.components import MlopsModel
from mlops_assets.contracts import CHAMPION_ALIAS
from mlops_assets.definitions import build_defs
from mlops_assets.resources.data_source import TrainingDataSource
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.settings import Settings
from mlops_assets_tests.conftest import Project

CAR_LOAN = Path(__file__).resolve().parents[1] / "data" / "car_loan"

CAR_LOAN_YAML = f"""
name: car_loan
training:
  location: {CAR_LOAN / "train.csv"}
  target: repaid
  timestamp_column: timestamp
scoring:
  location: {CAR_LOAN / "days"}
"""


def _two_models() -> dg.Definitions:
    car_loan = dg.build_defs_for_component(MlopsModel.resolve_from_yaml(CAR_LOAN_YAML))
    return dg.Definitions.merge(build_defs(Settings.from_env()), car_loan)


def _metadata(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, object]:
    (record,) = instance.fetch_materializations(key, limit=2).records
    materialization = record.asset_materialization
    assert materialization is not None
    return {name: value.value for name, value in materialization.metadata.items()}


def test_a_declared_model_gets_its_own_keys_groups_job_and_resources():
    defs = _two_models()
    graph = defs.resolve_asset_graph()

    groups = {
        key.to_user_string(): graph.get(key).group_name for key in graph.materializable_asset_keys
    }
    assert {k: g for k, g in groups.items() if k.startswith("car_loan/")} == {
        "car_loan/raw_data": "car_loan_data",
        "car_loan/validated_data": "car_loan_data",
        "car_loan/trained_model": "car_loan_training",
        "car_loan/evaluation_report": "car_loan_training",
        "car_loan/registered_model_version": "car_loan_training",
        "car_loan/scoring_data": "car_loan_data",
        "car_loan/batch_predictions": "car_loan_monitoring",
        "car_loan/drift_report": "car_loan_monitoring",
        "car_loan/estimated_performance": "car_loan_monitoring",
        "car_loan/labels": "car_loan_monitoring",
        "car_loan/realized_performance": "car_loan_monitoring",
    }
    job = defs.resolve_job_def("car_loan__training_job")
    assert job.asset_layer.selected_asset_keys == {
        dg.AssetKey(["car_loan", name])
        for name in ("raw_data", "validated_data", "trained_model", "evaluation_report")
    } | {dg.AssetKey(["car_loan", "registered_model_version"])}
    # Its assets read its own sources and registry, never the default model's.
    for key in job.asset_layer.selected_asset_keys:
        required = defs.get_assets_def(key).required_resource_keys
        assert not required & {"data_source", "scoring_source", "labels_source", "mlflow_registry"}
    assert (
        "car_loan__data_source"
        in defs.get_assets_def(dg.AssetKey(["car_loan", "raw_data"])).required_resource_keys
    )
    # The default model's job is untouched beside it.
    assert defs.resolve_job_def("training_job").asset_layer.selected_asset_keys == {
        dg.AssetKey(name)
        for name in (
            "raw_data",
            "validated_data",
            "trained_model",
            "evaluation_report",
            "registered_model_version",
        )
    }


@pytest.mark.slow
def test_two_models_train_side_by_side_into_their_own_registered_models_and_files(
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
    # One registered model each, each with its own first version as champion.
    for name in ("credit-default", "car_loan"):
        (version,) = MlflowRegistry(model_name=name).versions()
        assert (version.version, version.aliases) == ("1", (CHAMPION_ALIAS,)), name
    registered = _metadata(project.instance, dg.AssetKey(["car_loan", "registered_model_version"]))
    assert registered["model_version"] == 1
    assert "/car_loan/" in str(registered["mlflow_model_version"])
    # Each trained on its own source, into files under its own keys.
    car_loan_raw = _metadata(project.instance, dg.AssetKey(["car_loan", "raw_data"]))
    assert car_loan_raw["source"] == str(CAR_LOAN / "train.csv")
    assert car_loan_raw["dagster/row_count"] == 2000
    assert "synthetic" in str(_metadata(project.instance, dg.AssetKey("raw_data"))["source"])
    stored = project.home / "assets"
    assert [p.name for p in (stored / "car_loan" / "raw_data").glob("*.parquet")] == [
        f"{car_loan.run_id}.parquet"
    ]
    assert [p.name for p in (stored / "raw_data").glob("*.parquet")] == [
        f"{default.run_id}.parquet"
    ]
