"""The code location's settings: read once from the environment into one typed object, with
today's defaults, and a value that does not parse failing with its variable's name."""

from datetime import UTC, datetime

import dagster as dg
import pytest

from mlops_assets.definitions import build_defs
from mlops_assets.resources.data_source import DEFAULT_DRIFT_START, DEFAULT_SCORING_START
from mlops_assets.settings import Settings, SettingsError


def test_an_empty_environment_gives_the_defaults_of_the_readme(tmp_path):
    settings = Settings.from_env({"MLOPS_HOME": str(tmp_path)})
    assert settings.scoring_start == DEFAULT_SCORING_START
    assert settings.drift_start == DEFAULT_DRIFT_START
    assert settings.scoring_cron == "30 2 * * *"
    assert settings.scoring_schedule_on is False
    assert settings.labels_with_features is True
    assert settings.label_delay_days is None
    assert settings.git_branch == "main"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MLOPS_SCORING_START", "next monday", "MLOPS_SCORING_START='next monday' is not a day"),
        ("MLOPS_DRIFT_START", "2026-02-30", "MLOPS_DRIFT_START='2026-02-30' is not a day"),
        ("MLOPS_LABEL_DELAY_DAYS", "3d", "MLOPS_LABEL_DELAY_DAYS='3d' is not a whole number"),
        ("MLOPS_SCORING_SCHEDULE", "yes please", "MLOPS_SCORING_SCHEDULE='yes please' is not on"),
        ("MLOPS_DRIFT_SENSOR", "sometimes", "MLOPS_DRIFT_SENSOR='sometimes' is not on or off"),
        ("MLOPS_SENSOR_INTERVAL_SECONDS", "5m", "_INTERVAL_SECONDS='5m' is not a whole"),
        ("MLOPS_SENSOR_INTERVAL_SECONDS", "0", "_INTERVAL_SECONDS='0' must be at least"),
        ("MLOPS_MLFLOW_MAX_RETRIES", "-1", "MLOPS_MLFLOW_MAX_RETRIES='-1' is not a whole number"),
        ("MLOPS_MLFLOW_RETRY_DELAY", "soon", "MLOPS_MLFLOW_RETRY_DELAY='soon' is not a number"),
        ("MLOPS_RETRAIN_WINDOW_DAYS", "week", "MLOPS_RETRAIN_WINDOW_DAYS='week' is not an integer"),
    ],
)
def test_a_value_that_does_not_parse_names_its_variable(tmp_path, variable, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"MLOPS_HOME": str(tmp_path), variable: value})


def test_the_code_location_is_built_from_the_settings_it_is_given(tmp_path):
    settings = Settings.from_env(
        {
            "MLOPS_HOME": str(tmp_path),
            "MLOPS_SCORING_CRON": "15 6 * * *",
            "MLOPS_SCORING_SCHEDULE": "on",
            "MLOPS_LABELS_DATA": str(tmp_path / "labels"),
        }
    )
    defs = build_defs(settings)
    schedule = defs.resolve_schedule_def("daily_batch_prediction_schedule")
    assert schedule.cron_schedule == "15 6 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    job = defs.resolve_job_def("daily_monitoring_job")
    # Labels delivered on their own: the daily run leaves them to labels_job.
    selected = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert selected == {
        "scoring_data",
        "batch_predictions",
        "drift_report",
        "estimated_performance",
    }
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2026, 3, 5, 6, 15, tzinfo=UTC),
            repository_def=defs.get_repository_def(),
        )
        (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-03-04"


def test_the_sensors_switches_interval_and_the_mlflow_retries_come_from_the_settings(tmp_path):
    settings = Settings.from_env(
        {
            "MLOPS_HOME": str(tmp_path),
            "MLOPS_DRIFT_SENSOR": "on",
            "MLOPS_SENSOR_INTERVAL_SECONDS": "30",
            "MLOPS_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hook",
            "MLOPS_MLFLOW_MAX_RETRIES": "5",
            "MLOPS_MLFLOW_RETRY_DELAY": "0.5",
            "MLOPS_RETRAIN_COOLDOWN_DAYS": "4",
        }
    )
    defs = build_defs(settings)
    # Read from the definitions as built, not through a repository (resolving one binds it to
    # the current instance, which another test may have closed).
    sensors = {sensor.name: sensor for sensor in defs.sensors or ()}
    assets = {key: asset for asset in defs.assets or () for key in asset.keys}

    for name in ("drift_retraining_sensor", "labels_arrival_sensor"):
        assert sensors[name].minimum_interval_seconds == 30, name
        assert sensors[name].default_status == dg.DefaultSensorStatus.RUNNING, name
    for name in ("monitoring_alerts_sensor", "run_failure_alert_sensor", "rollback_alert_sensor"):
        assert sensors[name].default_status == dg.DefaultSensorStatus.RUNNING, name
    assert defs.resources["retraining_settings"].cooldown_days == 4
    for key in ("trained_model", "evaluation_report", "registered_model_version", "drift_report"):
        policy = assets[dg.AssetKey(key)].op.retry_policy
        assert policy is not None and (policy.max_retries, policy.delay) == (5, 0.5), key

    quiet = build_defs(Settings.from_env({"MLOPS_HOME": str(tmp_path)}))
    quiet_sensors = {sensor.name: sensor for sensor in quiet.sensors or ()}
    assert quiet_sensors["drift_retraining_sensor"].minimum_interval_seconds == 300
    for name in ("drift_retraining_sensor", "labels_arrival_sensor", "monitoring_alerts_sensor"):
        assert quiet_sensors[name].default_status == dg.DefaultSensorStatus.STOPPED, name


def test_a_promotion_keeps_the_former_champion_under_watch_unless_turned_off(tmp_path):
    home = {"MLOPS_HOME": str(tmp_path)}
    assert Settings.from_env(home).shadow_former_champion is True
    off = Settings.from_env({**home, "MLOPS_SHADOW_FORMER_CHAMPION": "off"})
    assert off.shadow_former_champion is False
    with pytest.raises(SettingsError, match="MLOPS_SHADOW_FORMER_CHAMPION='maybe' is not on"):
        Settings.from_env({**home, "MLOPS_SHADOW_FORMER_CHAMPION": "maybe"})


def test_the_shadow_share_is_read_once_checked_and_handed_to_the_scoring_source(tmp_path):
    from mlops_assets.definitions import build_resources

    home = {"MLOPS_HOME": str(tmp_path)}
    assert Settings.from_env(home).shadow_share == 1.0
    quarter = Settings.from_env({**home, "MLOPS_SHADOW_SHARE": " 0.25 "})
    assert quarter.shadow_share == 0.25
    assert build_resources(quarter)["scoring_source"].shadow_share == 0.25
    for bad, why in (
        ("0", "must be above 0 and at most 1"),
        ("1.5", "must be above 0 and at most 1"),
        ("-0.1", "must be above 0 and at most 1"),
        ("nan", "must be above 0 and at most 1"),
        ("half", "is not a number"),
    ):
        with pytest.raises(SettingsError, match=f"MLOPS_SHADOW_SHARE='{bad}' {why}"):
            Settings.from_env({**home, "MLOPS_SHADOW_SHARE": bad})
