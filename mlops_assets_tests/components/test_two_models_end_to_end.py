"""Two real models side by side in one code location, each through its whole loop: trained,
a drifted day scored, a retraining requested by its own drift sensor, and that retraining run.

The default model is configured by the environment on palmerpenguins (a real table the
`palmerpenguins` package ships, CC0), the species from the birds of 2007-2008; `car_loan` is
declared in YAML on the car-loan sample this package ships (Apache-2.0, from NannyML). Each
drifted day is a real day of its own data shifted the way a population changes: only 2009's
Gentoo penguins (one island, larger birds), and car loans for cars three times as dear to
drivers of longer tenure. Each model's sensor must request its own retraining only, and each
retraining must land in its own registered model and MLflow experiment."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.asset_keys import DEFAULT, ModelNames
from mlops_assets.components import MlopsModel
from mlops_assets.contracts import CHAMPION_ALIAS
from mlops_assets.definitions import build_defs
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.settings import Settings
from mlops_assets_tests.conftest import Project
from mlops_assets_tests.failures import step_failure

pytestmark = pytest.mark.slow

palmerpenguins = pytest.importorskip("palmerpenguins")

CAR_LOAN_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "car_loan"
CAR_LOAN = ModelNames("car_loan")
DAY = "2026-03-02"


def _penguins(directory: Path) -> dict[str, str]:
    """The default model's environment: trained on 2007-2008, one day of 2009's Gentoo."""
    frame = palmerpenguins.load_penguins()
    training = directory / "penguins-2007-2008.csv"
    frame[frame["year"] < 2009].drop(columns="year").to_csv(training, index=False)
    days = directory / "penguin-days"
    days.mkdir()
    gentoo = frame[(frame["year"] == 2009) & (frame["species"] == "Gentoo")]
    gentoo.drop(columns="year").to_csv(days / f"{DAY}.csv", index=False)
    return {
        "MLOPS_TRAINING_DATA": str(training),
        "MLOPS_TARGET_COLUMN": "species",
        "MLOPS_SCORING_DATA": str(days),
        "MLOPS_MODEL_NAME": "penguins",
        # One alarming day is enough here; the window's one species is trained on with the
        # training source, as a single-class window could not be.
        "MLOPS_RETRAIN_DEBOUNCE_DAYS": "1",
        "MLOPS_RETRAIN_INCLUDE_TRAINING_SOURCE": "true",
        "MLOPS_RETRAIN_MIN_INTERVAL_MINUTES": "0",
    }


def _car_loan(directory: Path) -> MlopsModel:
    days = directory / "car-loan-days"
    days.mkdir()
    day = pd.read_csv(CAR_LOAN_SAMPLE / "days" / "2026-02-06.csv")
    day["car_value"] = day["car_value"] * 3
    day["driver_tenure"] = day["driver_tenure"] + 10
    day.to_csv(days / f"{DAY}.csv", index=False)
    return MlopsModel.resolve_from_yaml(
        f"""
name: car_loan
training:
  location: {CAR_LOAN_SAMPLE / "train.csv"}
  target: repaid
  timestamp_column: timestamp
scoring:
  location: {days}
retraining:
  debounce_days: 1
  include_training_source: true
  min_interval_minutes: 0
drift_sensor: true
"""
    )


def _severity(instance: dg.DagsterInstance, names: ModelNames) -> object:
    (record,) = instance.fetch_materializations(names.drift_report, limit=2).records
    assert record.asset_materialization is not None
    return record.asset_materialization.metadata["severity"].value


def _score(defs: dg.Definitions, instance: dg.DagsterInstance, names: ModelNames) -> None:
    op = names.job("daily_monitoring")
    result = defs.resolve_job_def(names.job("daily_monitoring_job")).execute_in_process(
        partition_key=DAY,
        instance=instance,
        run_config={"ops": {op: {"config": {"drift_report": {"evidently_html": False}}}}},
        raise_on_error=False,
    )
    assert result.success, step_failure(result)


class _Sensors:
    """Both models' drift sensors, ticked as the daemon ticks them (each keeps its cursor)."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        self.defs, self.instance, self.cursors = defs, instance, {}

    def tick(self, names: ModelNames) -> tuple[list[dg.RunRequest], str]:
        sensor = self.defs.resolve_sensor_def(names.job("drift_retraining_sensor"))
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursors.get(names),
            definitions=self.defs,
            resources=self.defs.resources,
        ) as context:
            tick = sensor.evaluate_tick(context)
        self.cursors[names] = tick.cursor
        return list(tick.run_requests or []), tick.skip_message or ""

    def run(self, names: ModelNames, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
        """The run the daemon launches for the request: the sensor's own job."""
        job = (
            request.job_name
            or self.defs.resolve_sensor_def(names.job("drift_retraining_sensor")).job_name
        )
        assert job == names.job("retraining_job")
        result = self.defs.resolve_job_def(job).execute_in_process(
            instance=self.instance,
            run_config=request.run_config,
            tags=request.tags,
            raise_on_error=False,
        )
        assert result.success, step_failure(result)
        return result


def test_two_models_each_retrain_on_their_own_drift_only(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable, value in _penguins(tmp_path).items():
        monkeypatch.setenv(variable, value)
    defs = dg.Definitions.merge(
        build_defs(Settings.from_env()), dg.build_defs_for_component(_car_loan(tmp_path))
    )
    instance = project.instance
    for names in (DEFAULT, CAR_LOAN):
        trained = defs.resolve_job_def(names.job("training_job")).execute_in_process(
            instance=instance, raise_on_error=False
        )
        assert trained.success, step_failure(trained)
    sensors = _Sensors(defs, instance)

    # car_loan's day drifts; only car_loan's sensor asks for a retraining, of car_loan.
    _score(defs, instance, CAR_LOAN)
    assert _severity(instance, CAR_LOAN) == "critical"
    (car_loan_request,), _ = sensors.tick(CAR_LOAN)
    assert sensors.tick(DEFAULT) == ([], "no drift report yet")
    car_loan_retraining = sensors.run(CAR_LOAN, car_loan_request)

    # The penguins' day drifts; only the default model's sensor asks, car_loan's is done.
    _score(defs, instance, DEFAULT)
    assert _severity(instance, DEFAULT) == "critical"
    (default_request,), _ = sensors.tick(DEFAULT)
    car_loan_again, why = sensors.tick(CAR_LOAN)
    assert not car_loan_again, why
    default_retraining = sensors.run(DEFAULT, default_request)

    # Each retraining registered a second version of its own model, logged in its own
    # experiment; the other model's registry and runs are untouched by it.
    for names, model, experiment, retraining in (
        (CAR_LOAN, "car_loan", "mlops-assets/car_loan", car_loan_retraining),
        (DEFAULT, "penguins", "mlops-assets", default_retraining),
    ):
        registry = MlflowRegistry(model_name=model, experiment_name=experiment)
        versions = {v.version: v for v in registry.versions()}
        assert set(versions) == {"1", "2"}, model
        assert CHAMPION_ALIAS in versions["1"].aliases + versions["2"].aliases
        (record,) = instance.fetch_materializations(names.registered_model_version, limit=1).records
        assert record.run_id == retraining.run_id
        client = registry.client()
        runs = client.search_runs([registry.experiment_id()], max_results=100)
        trained_in = {run.info.run_id for run in runs}
        assert {v.run_id for v in versions.values()} <= trained_in, model
