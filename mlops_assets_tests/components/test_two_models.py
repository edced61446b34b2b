"""Two models in one code location: the default one from the environment and `car_loan`
declared in YAML (the car-loan sample this package ships, Apache-2.0, from NannyML), each
trained by its own job into its own registered model and its own stored files."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.asset_keys import DEFAULT
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
        "car_loan/challenger_comparison": "car_loan_monitoring",
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


def test_a_declared_models_schedule_and_labels_sensor_are_its_own_and_follow_its_yaml():
    defs = dg.Definitions.merge(
        _two_models(),
        dg.build_defs_for_component(
            MlopsModel.resolve_from_yaml(
                CAR_LOAN_YAML.replace("name: car_loan", "name: churn")
                + 'schedule:\n  cron: "15 6 * * 1-5"\n  enabled: true\n'
            )
        ),
    )

    car_loan = defs.resolve_schedule_def("car_loan__daily_batch_prediction_schedule")
    assert (car_loan.job_name, car_loan.cron_schedule, car_loan.default_status) == (
        "car_loan__daily_monitoring_job",
        "30 2 * * *",
        dg.DefaultScheduleStatus.STOPPED,
    )
    churn = defs.resolve_schedule_def("churn__daily_batch_prediction_schedule")
    assert (churn.job_name, churn.cron_schedule, churn.default_status) == (
        "churn__daily_monitoring_job",
        "15 6 * * 1-5",
        dg.DefaultScheduleStatus.RUNNING,
    )
    sensor = defs.resolve_sensor_def("car_loan__labels_arrival_sensor")
    assert [job.name for job in sensor.jobs] == ["car_loan__labels_job"]
    assert sensor.required_resource_keys == {"car_loan__labels_source"}
    # Its days start at its own first daily file, whatever the default model's start.
    job = defs.resolve_job_def("car_loan__daily_monitoring_job")
    assert job.partitions_def.get_first_partition_key() == "2026-02-06"
    assert defs.resolve_job_def(
        "daily_monitoring_job"
    ).partitions_def.get_first_partition_key() == ("2026-01-02")
    # Labels come with car_loan's features, so its daily run judges them too.
    assert job.asset_layer.selected_asset_keys == {
        dg.AssetKey(["car_loan", name])
        for name in (
            "scoring_data",
            "batch_predictions",
            "drift_report",
            "estimated_performance",
            "labels",
            "realized_performance",
            "challenger_comparison",
        )
    }


def _materialized_days(instance: dg.DagsterInstance, key: dg.AssetKey) -> set[str]:
    return set(instance.get_materialized_partitions(key))


@pytest.mark.slow
def test_a_declared_models_day_is_scored_by_its_own_job_into_its_own_files(project: Project):
    """car_loan's day goes through car_loan__daily_monitoring_job: its own champion scores it,
    its drift report and predictions land under its keys and paths, and the default model's
    monitoring state stays empty."""
    from mlops_assets.contracts import MODEL_NAME_KEY, MODEL_VERSION_KEY
    from mlops_assets.resources.io_managers import StoredParquetFile

    defs = _two_models()
    default = defs.resolve_job_def("training_job").execute_in_process(
        instance=project.instance,
        resources={"data_source": TrainingDataSource(synthetic_rows=1500)},
        raise_on_error=False,
    )
    trained = defs.resolve_job_def("car_loan__training_job").execute_in_process(
        instance=project.instance, raise_on_error=False
    )
    assert default.success and trained.success

    day = "2026-02-06"
    scored = defs.resolve_job_def("car_loan__daily_monitoring_job").execute_in_process(
        instance=project.instance,
        partition_key=day,
        run_config={
            "ops": {
                "car_loan__daily_monitoring": {
                    "config": {"drift_report": {"evidently_html": False}}
                }
            }
        },
        raise_on_error=False,
    )
    assert scored.success

    for name in ("scoring_data", "batch_predictions", "drift_report", "realized_performance"):
        assert _materialized_days(project.instance, dg.AssetKey(["car_loan", name])) == {day}
    # Its predictions, stored under its key's path, were made by its own champion.
    stored = project.home / "assets" / "car_loan" / "batch_predictions" / f"{day}.parquet"
    footer = StoredParquetFile(stored).schema_arrow.metadata or {}
    assert footer[MODEL_NAME_KEY.encode()] == b"car_loan"
    assert footer[MODEL_VERSION_KEY.encode()] == b"1"
    assert StoredParquetFile(stored).read().num_rows == 600
    assert (project.home / "assets" / "car_loan" / "scoring_data" / f"{day}.parquet").exists()
    # Its drift report: the verdict for its version, the JSON in its own folder.
    report = _metadata(project.instance, dg.AssetKey(["car_loan", "drift_report"]))
    assert report["model_version"] == "1"
    assert report["report_json"] == str(
        project.home / "reports" / "car_loan" / "drift" / f"{day}.json"
    )
    assert (project.home / "reports" / "car_loan" / "drift" / f"{day}.json").exists()
    assert "launch car_loan__evidently_report_job for partition 2026-02-06" in str(
        report["evidently_report"]
    )
    check = project.instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(["car_loan", "drift_report"]), "drift_within_bounds"), limit=5
    )
    assert len(check) == 1
    # The default model's monitoring state is untouched: no day, no file, no report.
    for key in DEFAULT.daily:
        assert _materialized_days(project.instance, key) == set(), key.to_user_string()
    assert not (project.home / "assets" / "batch_predictions").exists()
    assert not (project.home / "reports" / "drift").exists()
    # Both champions are still their first versions; scoring moved no alias.
    for name in ("credit-default", "car_loan"):
        (version,) = MlflowRegistry(model_name=name).versions()
        assert (version.version, version.aliases) == ("1", (CHAMPION_ALIAS,)), name

    # Its schedule asks for the day just ended, of its own job; its labels sensor reads its own
    # labels source (labels with its features: nothing to wait for).
    schedule = defs.resolve_schedule_def("car_loan__daily_batch_prediction_schedule")
    context = dg.build_schedule_context(
        instance=project.instance,
        scheduled_execution_time=datetime(2026, 2, 8, 2, 30, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-02-07"
    sensor = defs.resolve_sensor_def("car_loan__labels_arrival_sensor")
    tick = sensor.evaluate_tick(
        dg.build_sensor_context(
            instance=project.instance,
            resources=defs.resources,
            repository_def=defs.get_repository_def(),
        )
    )
    assert tick.skip_message and "labels come with the features" in tick.skip_message


def test_a_declared_models_labels_sensor_watches_its_own_labels_and_predictions(tmp_path):
    """car_loan's labels land in its own directory: its sensor asks its own labels_job for the
    day, once car_loan (not the default model) has predictions for it."""
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "2026-02-06.csv").write_text("id,repaid\n1,0\n")
    yaml = CAR_LOAN_YAML + f"labels:\n  location: {labels}\n  delay_days: 2\n"
    defs = dg.Definitions.merge(
        build_defs(Settings.from_env()),
        dg.build_defs_for_component(MlopsModel.resolve_from_yaml(yaml)),
    )
    sensor = defs.resolve_sensor_def("car_loan__labels_arrival_sensor")

    def tick(instance: dg.DagsterInstance) -> dg.SensorResult:
        context = dg.build_sensor_context(
            instance=instance, resources=defs.resources, repository_def=defs.get_repository_def()
        )
        return sensor.evaluate_tick(context)

    with dg.instance_for_test() as instance:
        # The default model's predictions for the day do not count for car_loan.
        instance.report_runless_asset_event(
            dg.AssetMaterialization(DEFAULT.batch_predictions, partition="2026-02-06")
        )
        waiting = tick(instance)
        assert waiting.skip_message is not None
        assert "unscored days 2026-02-06" in waiting.skip_message
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                dg.AssetKey(["car_loan", "batch_predictions"]), partition="2026-02-06"
            )
        )
        (request,) = tick(instance).run_requests
    assert request.partition_key == "2026-02-06"
    assert request.run_key.startswith("labels-2026-02-06-2026-02-06.csv-")
    # The default model's sensor, beside it, still reads the default labels source.
    default = defs.resolve_sensor_def("labels_arrival_sensor").evaluate_tick(
        dg.build_sensor_context(resources=defs.resources, repository_def=defs.get_repository_def())
    )
    assert default.skip_message is not None
    assert "labels come with the features" in default.skip_message
