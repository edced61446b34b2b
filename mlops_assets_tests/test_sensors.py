"""drift_retraining_sensor on a real Dagster instance: drift reports are real materialisation
events in the instance's event log, retraining runs are real run records (some really executed
and failed); the sensor is evaluated as the daemon would."""

import json
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from mlops_assets.contracts import (
    ATTEMPT_TAG,
    REASON_TAG,
    SIGNALS_TAG,
    TRIGGER_PARTITION_TAG,
    WINDOW_END_TAG,
    WINDOW_START_TAG,
)
from mlops_assets.definitions import build_resources, defs
from mlops_assets.defs.retraining.sensors import RetrainingSettings
from mlops_assets.domain.retraining_policy import RetrainingPolicy
from mlops_assets.domain.verdicts import EstimatedVerdict, PerformanceVerdict, RealizedVerdict
from mlops_assets.settings import Settings, SettingsError

# No loop guard: the tests tick faster than any real retraining runs.
FAST = RetrainingSettings(min_interval_minutes=0)


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
        resources={"retraining_settings": settings or FAST},
    ) as context:
        return sensor.evaluate_tick(context)


def _run_as_daemon(instance, request: dg.RunRequest, status=dg.DagsterRunStatus.SUCCESS):
    """The run the daemon creates for a request, recorded with its outcome."""
    job = defs.resolve_job_def("retraining_job")
    return instance.create_run_for_job(
        job, run_config=request.run_config, tags=request.tags, status=status
    )


def _window(request: dg.RunRequest) -> tuple[str, str]:
    config = request.run_config["ops"]["raw_data"]["config"]
    assert (request.tags[WINDOW_START_TAG], request.tags[WINDOW_END_TAG]) == (
        config["window_start"],
        config["window_end"],
    )
    return config["window_start"], config["window_end"]


def _days(first: str, n: int) -> list[str]:
    start = date.fromisoformat(first)
    return [(start + timedelta(days=i)).isoformat() for i in range(n)]


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
    assert _window(request) == ("2026-01-02", "2026-01-03")
    assert request.tags[ATTEMPT_TAG] == "1"
    assert request.run_key == "retraining:2026-01-02:2026-01-03:attempt-1"


def test_drift_sensor_does_not_launch_twice_for_the_same_window(instance):
    _report(instance, "2026-01-02", "critical")
    _report(instance, "2026-01-03", "critical")
    first = _tick(instance)
    (request,) = first.run_requests
    # Until the daemon has created the run, the same request comes back with the same run
    # key, which the daemon launches once.
    again = _tick(instance, cursor=first.cursor)
    assert [r.run_key for r in again.run_requests] == [request.run_key]
    run = _run_as_daemon(instance, request, status=dg.DagsterRunStatus.STARTED)
    busy = _tick(instance, cursor=again.cursor)
    assert not busy.run_requests and "already queued or running" in busy.skip_message
    instance.report_run_canceled(run)  # a cancelled run: the window is not tried again
    after = _tick(instance, cursor=busy.cursor)
    assert not after.run_requests and "already in the window" in after.skip_message


def test_cooldown_is_counted_in_data_days_not_hours(instance):
    for day in _days("2026-01-02", 2):
        _report(instance, day, "critical")
    (request,) = _tick(instance).run_requests
    _run_as_daemon(instance, request)  # succeeded a moment ago
    settings = RetrainingSettings(cooldown_days=2, min_interval_minutes=0)
    for day in _days("2026-01-04", 2):
        _report(instance, day, "critical")
        tick = _tick(instance, settings)
        assert not tick.run_requests and "cooldown" in tick.skip_message
    _report(instance, "2026-01-06", "critical")  # two data days later, minutes of clock
    (due,) = _tick(instance, settings).run_requests
    assert _window(due) == ("2026-01-02", "2026-01-06")


def test_the_loop_guard_holds_a_due_retraining_for_minutes(instance):
    for day in _days("2026-01-02", 2):
        _report(instance, day, "critical")
    (request,) = _tick(instance).run_requests
    _run_as_daemon(instance, request, status=dg.DagsterRunStatus.FAILURE)
    _report(instance, "2026-01-04", "critical")
    held = _tick(instance, RetrainingSettings(min_interval_minutes=30))
    assert not held.run_requests and "loop guard" in held.skip_message
    assert _tick(instance, FAST).run_requests


def _launches(instance, ticks: int, settings: RetrainingSettings) -> list[tuple[str, str]]:
    """Tick `ticks` times; every request becomes a run that succeeds before the next tick."""
    windows, cursor = [], None
    for _ in range(ticks):
        tick = _tick(instance, settings, cursor)
        cursor = tick.cursor
        for request in tick.run_requests:
            windows.append(_window(request))
            _run_as_daemon(instance, request)
    return windows


def test_a_backfill_of_drifted_days_starts_the_retrainings_of_one_a_day_arrival():
    settings = RetrainingSettings(debounce_days=2, cooldown_days=3, min_interval_minutes=0)
    days = _days("2026-01-02", 10)
    with dg.instance_for_test() as daily:
        one_a_day = []
        for day in days:
            _report(daily, day, "critical")
            one_a_day += _launches(daily, 1, settings)
    with dg.instance_for_test() as burst:
        for day in days:  # a backfill: every report first, then the sensor's ticks
            _report(burst, day, "critical")
        backfilled = _launches(burst, 10, settings)
    # The debounce is met on day 2, then a retraining every cooldown_days + 1 data days.
    expected = [
        ("2026-01-02", "2026-01-03"),
        ("2026-01-02", "2026-01-07"),
        ("2026-01-05", "2026-01-11"),
    ]
    assert one_a_day == backfilled == expected


def test_a_failed_retraining_starts_no_cooldown_and_is_retried_a_bounded_number_of_times(
    project,
):
    """Real runs of retraining_job that fail (their windows hold no scored partitions, so
    raw_data fails), then the sensor's next ticks."""
    instance = project.instance
    job = defs.resolve_job_def("retraining_job")
    settings = RetrainingSettings(max_attempts=2, min_interval_minutes=0)
    days = _days("2026-01-02", 4)
    _report(instance, days[0], "critical")
    failed_runs = []
    for day in days[1:3]:
        _report(instance, day, "critical")
        (request,) = _tick(instance, settings).run_requests
        assert request.tags[ATTEMPT_TAG] == str(len(failed_runs) + 1)
        if failed_runs:
            assert (
                f"last retraining run {failed_runs[-1]} failed, attempt 2 of 2"
                in request.tags["mlops/reason"]
            )
        result = job.execute_in_process(
            run_config=request.run_config,
            tags=request.tags,
            instance=instance,
            resources=project.resources(),
            raise_on_error=False,
        )
        assert not result.success
        failed_runs.append(result.run_id)
        # The failure is on the tick: the day is not retried at once, and it says why.
        tick = _tick(instance, settings)
        assert not tick.run_requests
        assert f"retraining run {result.run_id}" in tick.skip_message
        assert "failed" in tick.skip_message
    _report(instance, days[3], "critical")
    stuck = _tick(instance, settings)
    assert not stuck.run_requests
    assert "2 of 2 retraining attempts" in stuck.skip_message
    assert failed_runs[-1] in stuck.skip_message


def test_sensor_reads_a_bounded_history_whatever_its_length(instance):
    start = date(2024, 1, 1)
    for i in range(200):
        _report(instance, (start + timedelta(days=i)).isoformat(), "none")
    _report(instance, (start + timedelta(days=200)).isoformat(), "critical")
    tick = _tick(instance, RetrainingSettings(debounce_days=1, min_interval_minutes=0))
    assert len(tick.run_requests) == 1
    assert _window(tick.run_requests[0]) == ("2024-07-19", "2024-07-19")


def test_retraining_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MLOPS_RETRAIN_DEBOUNCE_DAYS", "3")
    monkeypatch.setenv("MLOPS_RETRAIN_COOLDOWN_DAYS", "5")
    monkeypatch.setenv("MLOPS_RETRAIN_WINDOW_DAYS", "10")
    monkeypatch.setenv("MLOPS_RETRAIN_INCLUDE_TRAINING_SOURCE", "true")
    monkeypatch.setenv("MLOPS_RETRAIN_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("MLOPS_RETRAIN_MIN_INTERVAL_MINUTES", "0.5")
    settings = build_resources()["retraining_settings"]
    assert (settings.debounce_days, settings.cooldown_days, settings.window_days) == (3, 5, 10)
    assert settings.include_training_source is True and settings.max_attempts == 2
    assert settings.min_interval == timedelta(seconds=30)
    assert Settings.from_env({"MLOPS_HOME": str(tmp_path)}).retraining == RetrainingPolicy()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MLOPS_RETRAIN_COOLDOWN_DAYS", "2d", "MLOPS_RETRAIN_COOLDOWN_DAYS='2d' is not an integer"),
        ("MLOPS_RETRAIN_INCLUDE_TRAINING_SOURCE", "maybe", "MLOPS_RETRAIN_INCLUDE_TRAINING_SOURCE"),
        ("MLOPS_RETRAIN_DEBOUNCE_DAYS", "0", "debounce_days=0"),
    ],
)
def test_a_retraining_setting_that_does_not_parse_names_its_variable(
    tmp_path, variable, value, message
):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"MLOPS_HOME": str(tmp_path), variable: value})


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


def _event(instance, asset: str, day: str, metadata: dict) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=asset, partition=day, metadata=metadata)
    )


def _unlabelled_day(instance, day: str, estimate_dropped: bool, trusted: bool = True) -> None:
    """What daily_monitoring_job records for a day scored without its labels: a drift report
    with no labelled rows, and the label-free estimate."""
    _event(
        instance,
        "drift_report",
        day,
        # As drift_report writes it: `labelled` false and no `labelled_rows` to plot at zero.
        {"severity": "none", "drifted_share": 0.1, "labelled": False},
    )
    _event(
        instance,
        "estimated_performance",
        day,
        EstimatedVerdict(
            date.fromisoformat(day),
            "1",
            "accuracy",
            0.7 if estimate_dropped else 0.8,
            0.68,
            0.72,
            0.8,
            trusted,
            "calibrated",
            estimate_dropped,
            "estimated accuracy 0.70",
        ).to_metadata(),
    )


def _labels_landed(instance, day: str, dropped: bool, n: int = 1000) -> None:
    performance = PerformanceVerdict(
        "accuracy",
        n,
        0.7 if dropped else 0.8,
        0.67,
        0.73,
        0.8,
        1000,
        0.1 if dropped else 0.0,
        0.06,
        0.14,
        0.01,
        0.95,
        dropped,
        "accuracy 0.70 vs 0.80",
    )
    _event(
        instance,
        "realized_performance",
        day,
        RealizedVerdict(date.fromisoformat(day), "1", performance, 1000, 1000 - n, 0).to_metadata(),
    )


def test_estimated_drops_wait_for_labels_then_launch_when_they_land(instance):
    days = _days("2026-01-09", 4)
    cursor = None
    for day in days:
        _unlabelled_day(instance, day, estimate_dropped=True)
        tick = _tick(instance, cursor=cursor)
        cursor = tick.cursor
        assert not tick.run_requests
    assert "waiting for labels of 2026-01-09, 2026-01-10" in tick.skip_message
    assert "estimated performance drop on 2026-01-09" in tick.skip_message
    assert "(no labels yet)" in tick.skip_message

    # No new drift report: only the labels of the first day land; one labelled day of two.
    _labels_landed(instance, days[0], dropped=True)
    tick = _tick(instance, cursor=cursor)
    cursor = tick.cursor
    assert not tick.run_requests and "waiting for labels of 2026-01-10" in tick.skip_message

    # The second day's labels: the launch, on labelled days only, named by its signal.
    _labels_landed(instance, days[1], dropped=True)
    (request,) = _tick(instance, cursor=cursor).run_requests
    assert _window(request) == ("2026-01-09", "2026-01-10")
    assert request.tags[SIGNALS_TAG] == "realized"
    assert "realized performance drop on 2026-01-09, 2026-01-10" in request.tags[REASON_TAG]


def test_an_untrusted_estimate_or_labels_that_overrule_it_never_launch(instance):
    for day in _days("2026-01-09", 3):
        _unlabelled_day(instance, day, estimate_dropped=True, trusted=False)
    tick = _tick(instance)
    assert not tick.run_requests and "no labels yet" in tick.skip_message
    assert "nothing to do" in tick.skip_message

    # A trusted estimate said "dropped", the labels say it held: the labels win.
    for day in _days("2026-01-12", 3):
        _unlabelled_day(instance, day, estimate_dropped=True)
        _labels_landed(instance, day, dropped=False)
    tick = _tick(instance)
    assert not tick.run_requests and "realized performance held" in tick.skip_message


def test_the_cursor_sees_new_materialisations_of_each_signal(instance):
    _unlabelled_day(instance, "2026-01-09", estimate_dropped=False)
    first = _tick(instance)
    state = json.loads(first.cursor)
    assert set(state["seen"]) == {"drift_report", "estimated_performance"}
    _labels_landed(instance, "2026-01-09", dropped=False)
    later = json.loads(_tick(instance, cursor=first.cursor).cursor)
    assert later["seen"]["realized_performance"] > 0
    assert later["seen"]["drift_report"] == state["seen"]["drift_report"]
    # A cursor written before the three signals still finds the newest report.
    old = json.dumps({"after": state["seen"]["drift_report"], "newest": "2026-01-09"})
    assert json.loads(_tick(instance, cursor=old).cursor)["newest"] == "2026-01-09"


def _decisions(instance) -> list[tuple[str | None, str, bool]]:
    """The retraining decisions recorded on drift_report, oldest first: (day, text, launched)."""
    records = instance.fetch_observations(dg.AssetKey("drift_report"), limit=100).records
    found = []
    for record in reversed(records):
        observation = record.asset_observation
        metadata = observation.metadata
        found.append(
            (
                observation.partition,
                metadata["retraining_decision"].value,
                metadata["retraining_launched"].value,
            )
        )
    return found


def test_a_changed_decision_is_written_on_the_days_drift_report_and_a_repeat_is_not(instance):
    """The daemon records a tick per evaluation, alike or not; what a person reads without
    hovering is each new decision (skip or launch, with its reason) as text on the judged
    day's drift_report. An unchanged decision adds nothing there."""
    from mlops_assets.tools.sensor_ticks import tick_sensor

    resources = {"retraining_settings": FAST}
    tick_sensor(defs, instance, "drift_retraining_sensor", resources)  # no report: nothing
    assert _decisions(instance) == []

    _report(instance, "2026-01-02", "critical")
    waiting = tick_sensor(defs, instance, "drift_retraining_sensor", resources)
    assert "debounce" in (waiting.skip_message or "")
    tick_sensor(defs, instance, "drift_retraining_sensor", resources)  # the same decision
    assert _decisions(instance) == [("2026-01-02", waiting.skip_message, False)]

    _report(instance, "2026-01-03", "critical")
    (launch,) = tick_sensor(defs, instance, "drift_retraining_sensor", resources).launches
    day, text, launched = _decisions(instance)[-1]
    assert (day, launched) == ("2026-01-03", True)
    assert text == f"launched retraining attempt 1: {launch.tags[REASON_TAG]}"
    assert len(_decisions(instance)) == 2


def test_the_drift_and_labels_sensors_tick_every_five_minutes():
    """At most 12 ticks an hour each (not 120): a launch and its reason stay on the tick
    list's first page for hours, not minutes."""
    for name in ("drift_retraining_sensor", "labels_arrival_sensor"):
        assert defs.resolve_sensor_def(name).minimum_interval_seconds == 300, name
