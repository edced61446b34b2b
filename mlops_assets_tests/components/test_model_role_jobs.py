"""A declared model's own rollback and promotion jobs: named after it, reading its own
resources, moving its own registered model's aliases (the car-loan sample, Apache-2.0, from
NannyML, as in test_two_models)."""

import pytest

from mlops_assets.contracts import CHALLENGER_ALIAS, CHAMPION_ALIAS
from mlops_assets.domain.promotion import Action, audit_trail
from mlops_assets.resources.data_source import TrainingDataSource
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets_tests.components.test_two_models import _two_models
from mlops_assets_tests.conftest import Project

PER_MODEL = {"data_source", "scoring_source", "labels_source", "mlflow_registry"}


def test_a_declared_model_has_its_own_rollback_and_promotion_jobs_on_its_own_resources():
    defs = _two_models()
    for job_name, op_name in (
        ("car_loan__promote_version_job", "car_loan__promote_version"),
        ("car_loan__rollback_champion_job", "car_loan__rollback_champion"),
    ):
        job = defs.resolve_job_def(job_name)
        (node,) = job.nodes
        assert node.name == op_name
        required = node.definition.required_resource_keys
        assert "car_loan__mlflow_registry" in required and not required & PER_MODEL
    # The default model's keep their names, ops and keys.
    (default_op,) = defs.resolve_job_def("promote_version_job").nodes
    assert default_op.name == "promote_version"
    assert "mlflow_registry" in default_op.definition.required_resource_keys


@pytest.mark.slow
def test_a_declared_models_promotion_job_moves_its_challenger_not_the_default_models(
    project: Project,
):
    defs = _two_models()
    default = defs.resolve_job_def("training_job").execute_in_process(
        instance=project.instance,
        resources={"data_source": TrainingDataSource(synthetic_rows=1500)},
        raise_on_error=False,
    )
    assert default.success
    for _ in range(2):
        trained = defs.resolve_job_def("car_loan__training_job").execute_in_process(
            instance=project.instance, raise_on_error=False
        )
        assert trained.success
    car_loan = MlflowRegistry(model_name="car_loan")
    # The same rows twice: an equal model, the challenger.
    assert car_loan.version_by_alias(CHALLENGER_ALIAS).version == "2"

    retired = defs.resolve_job_def("car_loan__promote_version_job").execute_in_process(
        instance=project.instance,
        run_config={
            "ops": {
                "car_loan__promote_version": {
                    "config": {"version": "2", "role": "none", "reason": "no live gain"}
                }
            }
        },
        raise_on_error=False,
    )
    assert retired.success
    assert car_loan.version_by_alias(CHALLENGER_ALIAS) is None
    assert car_loan.version_by_alias(CHAMPION_ALIAS).version == "1"
    assert audit_trail(car_loan.versions())[-1].action is Action.CHALLENGER_RETIRED
    # The default model's registry is untouched.
    (only,) = MlflowRegistry(model_name="credit-default").versions()
    assert only.aliases == (CHAMPION_ALIAS,)
