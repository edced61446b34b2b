"""drift_retraining_sensor on a real Dagster instance: drift reports are real materialisation
events in the instance's event log; the sensor is evaluated as the daemon would."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from mlops_assets.definitions import defs
from mlops_assets.sensors import TRIGGER_PARTITION_TAG, RetrainingSettings


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def _report(instance, day: str, severity: str, performance_dropped: bool = False) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key="drift_report",
            partition=day,
            metadata={
                "severity": severity,
                "performance_dropped": performance_dropped,
                "drifted_share": 0.6 if severity == "critical" else 0.0,
            },
        )
    )


def _tick(instance, settings: RetrainingSettings | None = None, cursor=None):
    sensor = defs.resolve_sensor_def("drift_retraining_sensor")
    with dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"retraining_settings": settings or RetrainingSettings()},
    ) as context:
        return sensor.evaluate_tick(context)


def test_drift_sensor_skips_when_report_is_clean(instance):
    _report(instance, "2026-01-02", "none")
    tick = _tick(instance)
    assert not tick.run_requests
    assert "nothing to do" in tick.skip_message


def test_drift_sensor_waits_for_consecutive_critical_days(instance):
    _report(instance, "2026-01-02", "critical")
    tick = _tick(instance)
    assert not tick.run_requests and "debounce" in tick.skip_message


def test_drift_sensor_requests_retraining_on_the_drifted_window(instance):
    _report(instance, "2026-01-01", "none")
    _report(instance, "2026-01-02", "critical")
    _report(instance, "2026-01-03", "critical")
    tick = _tick(instance)
    (request,) = tick.run_requests
    assert request.job_name in (None, "retraining_job")
    assert request.tags[TRIGGER_PARTITION_TAG] == "2026-01-03"
    window = request.run_config["ops"]["raw_data"]["config"]
    assert (window["window_start"], window["window_end"]) == ("2026-01-02", "2026-01-03")
    assert request.run_key.startswith("drift_report:2026-01-03:")


def test_drift_sensor_does_not_launch_twice_for_the_same_report(instance):
    _report(instance, "2026-01-02", "critical")
    _report(instance, "2026-01-03", "critical")
    first = _tick(instance)
    assert len(first.run_requests) == 1
    again = _tick(instance, cursor=first.cursor)
    assert not again.run_requests  # no new event since the cursor


def test_drift_sensor_respects_cooldown_and_running_retraining(instance):
    _report(instance, "2026-01-02", "critical")
    _report(instance, "2026-01-03", "critical")
    job = defs.resolve_job_def("retraining_job")
    run = instance.create_run_for_job(job, run_config={}, status=dg.DagsterRunStatus.STARTED)
    busy = _tick(instance)
    assert not busy.run_requests and "already queued or running" in busy.skip_message

    instance.report_run_canceled(run)
    cooling = _tick(instance, RetrainingSettings(cooldown_hours=6))
    assert not cooling.run_requests and "cooldown" in cooling.skip_message
    assert _tick(instance, RetrainingSettings(cooldown_hours=0)).run_requests


def test_sensor_reads_a_bounded_history_whatever_its_length(instance):
    start = date(2024, 1, 1)
    for i in range(200):
        _report(instance, (start + timedelta(days=i)).isoformat(), "none")
    _report(instance, (start + timedelta(days=200)).isoformat(), "critical")
    tick = _tick(instance, RetrainingSettings(debounce_days=1))
    assert len(tick.run_requests) == 1
    window = tick.run_requests[0].run_config["ops"]["raw_data"]["config"]
    assert window["window_start"] == window["window_end"] == "2024-07-19"


def test_daily_schedule_targets_the_previous_day_partition():
    schedule = defs.resolve_schedule_def("daily_batch_prediction_schedule")
    assert schedule.cron_schedule == "30 2 * * *"
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2026, 2, 10, 2, 30, tzinfo=UTC),
            repository_def=defs.get_repository_def(),
        )
        (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-02-09"


def test_monitoring_assets_are_daily_partitioned_from_the_configured_start():
    job = defs.resolve_job_def("daily_monitoring_job")
    partitions = job.partitions_def
    assert partitions.get_first_partition_key() == "2026-01-02"
    assert "2026-01-15" in partitions.get_partition_keys()
