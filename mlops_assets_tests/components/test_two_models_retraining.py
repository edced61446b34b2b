"""Two models' retraining sensors in one code location are independent: a drifted streak
stored for one model makes only that model's drift_retraining_sensor request a run, of that
model's retraining_job, configured for that model's raw_data; the other model's sensor stays
quiet. Each sensor is ticked as the daemon ticks it, with the code location's own resources
(its model's retraining policy among them), on a real Dagster instance holding the reports.

The car-loan sample is the one the tests ship (Apache-2.0, from NannyML)."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.asset_keys import DEFAULT, ModelNames
from mlops_assets.components import MlopsModel
from mlops_assets.contracts import WINDOW_END_TAG, WINDOW_START_TAG
from mlops_assets.definitions import build_defs
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.settings import Settings

CAR_LOAN = Path(__file__).resolve().parents[1] / "data" / "car_loan"
CAR_LOAN_NAMES = ModelNames("car_loan")

CAR_LOAN_YAML = f"""
name: car_loan
training:
  location: {CAR_LOAN / "train.csv"}
  target: repaid
  timestamp_column: timestamp
scoring:
  location: {CAR_LOAN / "days"}
retraining:
  debounce_days: 2
  min_interval_minutes: 0
  refit_on_window: true
drift_sensor: true
"""


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    car_loan = dg.build_defs_for_component(MlopsModel.resolve_from_yaml(CAR_LOAN_YAML))
    default = build_defs(Settings.from_env({"MLOPS_RETRAIN_MIN_INTERVAL_MINUTES": "0"}))
    return dg.Definitions.merge(default, car_loan)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def _drifted(instance: dg.DagsterInstance, names: ModelNames, *days: str) -> None:
    """Critical drift reports of `names`'s model, stored as its drift_report materialises them."""
    for day in days:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=names.drift_report,
                partition=day,
                metadata={"severity": "critical", "drifted_share": 0.6},
            )
        )


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, names: ModelNames):
    sensor = defs.resolve_sensor_def(names.job("drift_retraining_sensor"))
    with dg.build_sensor_context(
        instance=instance, definitions=defs, resources=defs.resources
    ) as context:
        return sensor, sensor.evaluate_tick(context)


# With an instance open: resolving definitions reads the current instance's definitions state,
# and one a previous test left behind may be closed.
@pytest.mark.usefixtures("instance")
def test_each_model_has_its_own_sensor_job_and_policy(defs: dg.Definitions) -> None:
    car_loan = defs.resolve_sensor_def("car_loan__drift_retraining_sensor")
    default = defs.resolve_sensor_def("drift_retraining_sensor")

    assert car_loan.job_name == "car_loan__retraining_job"
    assert default.job_name == "retraining_job"
    # `drift_sensor: true` in the YAML; the default model's follows MLOPS_DRIFT_SENSOR (unset).
    assert car_loan.default_status == dg.DefaultSensorStatus.RUNNING
    assert default.default_status == dg.DefaultSensorStatus.STOPPED
    assert car_loan.required_resource_keys == {"car_loan__retraining_settings"}
    assert defs.resources["car_loan__retraining_settings"].min_interval_minutes == 0
    retraining = defs.resolve_job_def("car_loan__retraining_job").asset_layer.selected_asset_keys
    assert retraining == set(CAR_LOAN_NAMES.training)
    # Each model's runs go to its own MLflow experiment.
    registry = defs.resources["car_loan__mlflow_registry"]
    assert isinstance(registry, MlflowRegistry)
    assert registry.experiment_name == "mlops-assets/car_loan"
    assert defs.resources["mlflow_registry"].experiment_name == "mlops-assets"


def test_a_drifted_streak_of_car_loan_retrains_car_loan_only(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    _drifted(instance, CAR_LOAN_NAMES, "2026-02-10", "2026-02-11")

    sensor, tick = _tick(defs, instance, CAR_LOAN_NAMES)
    _, default_tick = _tick(defs, instance, DEFAULT)

    (request,) = tick.run_requests
    job = defs.resolve_job_def(request.job_name or sensor.job_name)
    assert job.name == "car_loan__retraining_job"
    assert (request.tags[WINDOW_START_TAG], request.tags[WINDOW_END_TAG]) == (
        "2026-02-10",
        "2026-02-11",
    )
    # The window configures car_loan's raw_data: the config the job accepts.
    assert (
        dg.validate_run_config(job, request.run_config)["ops"]["car_loan__raw_data"]["config"][
            "window_end"
        ]
        == "2026-02-11"
    )
    assert not default_tick.run_requests
    assert default_tick.skip_message == "no drift report yet"
    # The decision is written on car_loan's own drift_report.
    (observation,) = [e for e in tick.asset_events if isinstance(e, dg.AssetObservation)]
    assert observation.asset_key == CAR_LOAN_NAMES.drift_report


def test_a_drifted_streak_of_the_default_model_leaves_car_loan_quiet(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    _drifted(instance, DEFAULT, "2026-02-10", "2026-02-11")

    sensor, tick = _tick(defs, instance, DEFAULT)
    _, car_loan_tick = _tick(defs, instance, CAR_LOAN_NAMES)

    (request,) = tick.run_requests
    assert (request.job_name or sensor.job_name) == "retraining_job"
    assert "raw_data" in request.run_config["ops"]
    assert not car_loan_tick.run_requests
    assert car_loan_tick.skip_message == "no drift report yet"


def test_one_models_running_retraining_does_not_hold_the_others(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    _drifted(instance, CAR_LOAN_NAMES, "2026-02-10", "2026-02-11")
    sensor, tick = _tick(defs, instance, CAR_LOAN_NAMES)
    (request,) = tick.run_requests
    instance.create_run_for_job(
        defs.resolve_job_def(sensor.job_name),
        run_config=request.run_config,
        tags=request.tags,
        status=dg.DagsterRunStatus.STARTED,
    )
    _drifted(instance, DEFAULT, "2026-02-10", "2026-02-11")

    _, busy = _tick(defs, instance, CAR_LOAN_NAMES)
    _, default_tick = _tick(defs, instance, DEFAULT)

    assert not busy.run_requests and "already queued or running" in (busy.skip_message or "")
    (default_request,) = default_tick.run_requests
    assert default_request.tags[WINDOW_END_TAG] == "2026-02-11"


def _validated_refit(defs: dg.Definitions, sensor: dg.SensorDefinition, request) -> bool:
    """The refit setting of the requested run's evaluation_report, as its job accepts it."""
    job = defs.resolve_job_def(request.job_name or sensor.job_name)
    ops = dg.validate_run_config(job, request.run_config)["ops"]
    (evaluation_op,) = [op for op in ops if op.endswith("evaluation_report")]
    return ops[evaluation_op]["config"]["refit_on_window"]


def test_a_sensor_launched_retraining_carries_its_models_refit_setting(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    _drifted(instance, CAR_LOAN_NAMES, "2026-02-10", "2026-02-11")
    _drifted(instance, DEFAULT, "2026-02-10", "2026-02-11")

    car_loan_sensor, car_loan_tick = _tick(defs, instance, CAR_LOAN_NAMES)
    default_sensor, default_tick = _tick(defs, instance, DEFAULT)

    # car_loan's YAML says `retraining.refit_on_window: true`; the default model's
    # MLOPS_RETRAIN_REFIT_ON_WINDOW is unset: off, as in training_job.
    (car_loan_request,) = car_loan_tick.run_requests
    (default_request,) = default_tick.run_requests
    assert _validated_refit(defs, car_loan_sensor, car_loan_request) is True
    assert _validated_refit(defs, default_sensor, default_request) is False


def test_mlops_retrain_refit_on_window_reaches_the_default_models_retraining(
    instance: dg.DagsterInstance,
) -> None:
    defs = build_defs(
        Settings.from_env(
            {"MLOPS_RETRAIN_MIN_INTERVAL_MINUTES": "0", "MLOPS_RETRAIN_REFIT_ON_WINDOW": "true"}
        )
    )
    _drifted(instance, DEFAULT, "2026-02-10", "2026-02-11")

    sensor, tick = _tick(defs, instance, DEFAULT)

    (request,) = tick.run_requests
    assert _validated_refit(defs, sensor, request) is True
    assert defs.resources["retraining_settings"].refit_on_window is True
