"""Sensor ticks the demo records (sensor_ticks.py), read back from a real instance the way the
UI's sensor page reads them: ticks by selector, runs by the sensor and repository tags."""

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG, SENSOR_NAME_TAG

from mlops_assets.definitions import defs
from mlops_assets.defs.retraining.sensors import RetrainingSettings
from mlops_assets.tools.sensor_ticks import CODE_LOCATION, sensor_origin, tick_sensor

ROOT = Path(__file__).resolve().parents[1]
SENSOR = "drift_retraining_sensor"
RESOURCES = {"retraining_settings": RetrainingSettings(min_interval_minutes=0)}


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def _report(instance, day: str, severity: str) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key="drift_report",
            partition=day,
            metadata={"severity": severity, "performance_dropped": False},
        )
    )


def _ticks(instance):
    origin = sensor_origin(SENSOR)
    return list(reversed(instance.get_ticks(origin.get_id(), origin.get_selector().get_id())))


def test_each_evaluation_is_a_tick_with_its_skip_reason_then_the_launch_with_its_run(instance):
    _report(instance, "2026-01-09", "critical")
    skipped = tick_sensor(defs, instance, SENSOR, RESOURCES)
    assert skipped.launches == []
    assert "waiting for 2 (debounce)" in (skipped.skip_message or "")
    _report(instance, "2026-01-10", "critical")
    launched = tick_sensor(defs, instance, SENSOR, RESOURCES)
    (launch,) = launched.launches
    assert launch.tags[SENSOR_NAME_TAG] == SENSOR
    assert launch.tags[REPOSITORY_LABEL_TAG] == f"__repository__@{CODE_LOCATION}"

    first, second = _ticks(instance)
    assert first.status == TickStatus.SKIPPED
    assert first.skip_reason == skipped.skip_message
    assert second.status == TickStatus.SUCCESS
    assert second.run_ids == [launch.run_id]
    assert second.run_keys == [launch.request.run_key]
    # The next tick starts from the stored cursor, as the daemon's would.
    state = instance.get_instigator_state(
        sensor_origin(SENSOR).get_id(), sensor_origin(SENSOR).get_selector().get_id()
    )
    assert state.instigator_data.cursor == second.cursor
    assert state.instigator_data.last_run_key == launch.request.run_key


def test_the_runs_tab_filter_lists_a_launched_run(instance):
    for day in ("2026-01-09", "2026-01-10"):
        _report(instance, day, "critical")
    (launch,) = tick_sensor(defs, instance, SENSOR, RESOURCES).launches
    run = instance.create_run_for_job(
        defs.resolve_job_def("retraining_job"),
        run_id=launch.run_id,
        run_config=launch.request.run_config,
        tags=launch.tags,
        status=dg.DagsterRunStatus.SUCCESS,
    )
    # The sensor page's Runs tab filters on exactly these two tags.
    listed = instance.get_run_ids(
        dg.RunsFilter(
            tags={SENSOR_NAME_TAG: SENSOR, REPOSITORY_LABEL_TAG: "__repository__@mlops_assets"}
        )
    )
    assert listed == [run.run_id]


def test_a_request_whose_run_key_already_has_a_run_launches_nothing(instance):
    for day in ("2026-01-09", "2026-01-10"):
        _report(instance, day, "critical")
    (launch,) = tick_sensor(defs, instance, SENSOR, RESOURCES).launches
    # A run with the key, of a job the retraining decision does not read, so the sensor asks
    # for the same run again; the daemon would not launch it twice, nor does the recorder.
    instance.create_run_for_job(defs.resolve_job_def("daily_monitoring_job"), tags=launch.tags)
    again = tick_sensor(defs, instance, SENSOR, RESOURCES)
    assert again.launches == []
    assert again.skip_message == "the runs of these run keys exist already"
    last = _ticks(instance)[-1]
    assert (last.status, last.run_ids, last.run_keys) == (
        TickStatus.SKIPPED,
        [],
        [launch.request.run_key],
    )


def test_the_recorded_location_is_the_one_both_workspaces_name():
    for path in ("workspace.yaml", "deploy/workspace.yaml"):
        (entry,) = yaml.safe_load((ROOT / path).read_text())["load_from"]
        (target,) = entry.values()
        assert target["location_name"] == CODE_LOCATION, path
