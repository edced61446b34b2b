"""A declared model's own rollback and promotion jobs: named after it, reading its own
resources, moving its own registered model's aliases, its rollbacks alerted by its own sensor,
and the gate's "promote manually" reasons naming its own job (the car-loan sample, Apache-2.0,
from NannyML, as in test_two_models)."""

import json
import re
import threading
from collections.abc import Iterator

import dagster as dg
import pytest

from mlops_assets.asset_keys import DEFAULT, ModelNames
from mlops_assets.contracts import CHALLENGER_ALIAS, CHAMPION_ALIAS
from mlops_assets.domain.promotion import Action, audit_trail, decide_promotion
from mlops_assets.domain.promotion.gate import GateConfig
from mlops_assets.resources.alerts import AlertWebhook
from mlops_assets.resources.data_source import TrainingDataSource
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets_tests.components.test_two_models import _two_models
from mlops_assets_tests.conftest import Project
from mlops_assets_tests.test_alert_sensors import Receiver

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


@pytest.fixture
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def test_the_gates_manual_promotion_reason_gives_each_models_own_working_command():
    defs = _two_models()
    for names in (DEFAULT, ModelNames("car_loan")):
        (reason,) = decide_promotion(
            candidate_metrics={"roc_auc": 0.9},
            gate=GateConfig(min_metrics={"roc_auc": 0.6}),
            schema_compatible=False,
            schema_detail="column x removed",
            overall=None,
            slices=(),
            manual=names.manual_promotion,
        ).reasons
        # The command a person copies from the reason: its job exists, and its run config is
        # the one that job accepts.
        command = re.search(r"-j (\S+) -c <\(echo '(.+?)'\)", reason)
        assert command is not None, reason
        job_name, run_config = command.group(1), json.loads(command.group(2))
        assert job_name == names.job("promote_version_job")
        job = defs.resolve_job_def(job_name)
        assert dg.validate_run_config(job, run_config)["ops"][names.job("promote_version")]


@pytest.mark.slow
def test_a_declared_models_rollback_is_alerted_by_its_own_sensor_under_its_name(
    project: Project, webhook_receiver: Receiver
):
    defs = _two_models()
    for _ in range(2):
        trained = defs.resolve_job_def("car_loan__training_job").execute_in_process(
            instance=project.instance, raise_on_error=False
        )
        assert trained.success
    promoted = defs.resolve_job_def("car_loan__promote_version_job").execute_in_process(
        instance=project.instance,
        run_config={
            "ops": {"car_loan__promote_version": {"config": {"version": "2", "reason": "try"}}}
        },
    )
    assert promoted.success
    rollback = defs.resolve_job_def("car_loan__rollback_champion_job").execute_in_process(
        instance=project.instance,
        run_config={
            "ops": {
                "car_loan__rollback_champion": {
                    "config": {"reason": "v2 misbehaves", "requested_by": "alice"}
                }
            }
        },
    )
    assert rollback.success
    assert MlflowRegistry(model_name="car_loan").version_by_alias(CHAMPION_ALIAS).version == "1"

    run = project.instance.get_run_by_id(rollback.run_id)
    assert run is not None
    success = next(
        e for e in rollback.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS
    )
    webhook = AlertWebhook(url=webhook_receiver.url, dagster_ui_url="http://ui.test")
    context = dg.build_run_status_sensor_context(
        sensor_name="car_loan__rollback_alert_sensor",
        dagster_event=success,
        dagster_instance=project.instance,
        dagster_run=run,
        resources={"alert_webhook": webhook},
    )
    defs.resolve_sensor_def("car_loan__rollback_alert_sensor")(context)

    (body,) = webhook_receiver.bodies
    assert body["text"].startswith("car_loan: Champion rolled back: v2 -> v1")
    assert "v2 misbehaves (requested by alice)" in body["blocks"][0]["text"]["text"]
