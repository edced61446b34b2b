"""Sensor evaluations recorded in the instance as the sensor daemon records them.

`make demo` and the loop tests evaluate the sensors in-process, with their own resources, and
execute the runs they ask for in-process too. Evaluated with `build_sensor_context` alone, a
tick leaves no trace: the sensor's page in the UI shows no history and its Runs tab no runs.
So each evaluation here leaves what the daemon's would: the sensor's stored state (its cursor,
the last run key), one tick (skipped with its skip reason, or a success with the ids and keys
of the runs it launched, or a failure with the error) and, on each launched run, the tags that
make it the sensor's (`dagster/sensor_name`, `dagster/run_key` and the repository label the
Runs tab filters on). `make ui` then shows them, and its daemon goes on from the same cursor.

Route: the instance's own tick storage (`create_tick`, `update_tick`, `add_instigator_state`,
`update_instigator_state`) with Dagster's TickData / InstigatorState records, the least private
way to record a tick. The daemon's loop itself (`dagster._daemon.sensor`, private) evaluates
through a code location with the definitions' own resources, holds each sensor to its
`minimum_interval_seconds` and sends runs to the run queue: neither a test's resources nor a
demo that ticks after each scored day would survive it.

Ticks are found by selector (code location, repository, sensor name), so the location name
must be the one the workspaces give (`CODE_LOCATION`, checked against them by a test).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg

from mlops_assets.dagster_internals import (
    REPOSITORY_LABEL_TAG,
    RUN_KEY_TAG,
    SENSOR_NAME_TAG,
    SINGLETON_REPOSITORY_NAME,
    InProcessCodeLocationOrigin,
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    LoadableTargetOrigin,
    RemoteInstigatorOrigin,
    RemoteRepositoryOrigin,
    SensorInstigatorData,
    TickData,
    TickStatus,
    make_new_run_id,
    serializable_error_info_from_exc_info,
)

# The code location's name in workspace.yaml and deploy/workspace.yaml.
CODE_LOCATION = "mlops_assets"
DEFINITIONS_MODULE = "mlops_assets.definitions"


@dataclass(frozen=True)
class Launch:
    """A run the tick launched: execute it with this run id and these tags."""

    request: dg.RunRequest
    run_id: str
    tags: Mapping[str, str]


@dataclass(frozen=True)
class RecordedTick:
    tick_id: int
    launches: list[Launch]
    skip_message: str | None
    """The sensor's skip reason, or why its requests launched nothing (their runs exist)."""
    asset_events: tuple[
        dg.AssetObservation | dg.AssetMaterialization | dg.AssetCheckEvaluation, ...
    ] = ()
    """What the sensor reported on assets, recorded in the instance."""


def sensor_origin(sensor_name: str) -> RemoteInstigatorOrigin:
    """The sensor's origin in the project's code location, as the UI's selector finds it."""
    location = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name=DEFINITIONS_MODULE), location_name=CODE_LOCATION
    )
    return RemoteInstigatorOrigin(
        RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME), sensor_name
    )


def tick_sensor(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    sensor_name: str,
    resources: Mapping[str, object] | None = None,
) -> RecordedTick:
    """Evaluate the sensor once from its stored cursor and record the tick; a request whose run
    key already has a run of this sensor launches nothing, as the daemon dedups."""
    sensor = defs.resolve_sensor_def(sensor_name)
    origin = sensor_origin(sensor_name)
    origin_id, selector_id = origin.get_id(), origin.get_selector().get_id()
    state = instance.get_instigator_state(origin_id, selector_id)
    if state is None:
        # What the daemon stores for a sensor on by default; with its default off the UI
        # shows it stopped, with this history.
        state = InstigatorState(
            origin,
            InstigatorType.SENSOR,
            InstigatorStatus.DECLARED_IN_CODE,
            SensorInstigatorData(
                min_interval=sensor.minimum_interval_seconds,
                last_sensor_start_timestamp=time.time(),
                sensor_type=sensor.sensor_type,
            ),
        )
        instance.add_instigator_state(state)
    previous = state.instigator_data
    assert isinstance(previous, SensorInstigatorData)
    started = time.time()
    tick = instance.create_tick(
        TickData(
            instigator_origin_id=origin_id,
            instigator_name=sensor_name,
            instigator_type=InstigatorType.SENSOR,
            status=TickStatus.STARTED,
            timestamp=started,
            selector_id=selector_id,
        )
    )
    try:
        with dg.build_sensor_context(
            instance=instance,
            cursor=previous.cursor,
            resources=resources or defs.resources,
            # Partitioned run requests (labels_job's) are resolved against the definitions.
            definitions=defs,
        ) as context:
            result = sensor.evaluate_tick(context)
    except Exception:
        error = serializable_error_info_from_exc_info(sys.exc_info())
        instance.update_tick(
            tick.with_status(TickStatus.FAILURE, error=error, end_timestamp=time.time())
        )
        raise

    # What the daemon persists for a sensor at the end of its evaluation (its `asset_events`).
    for event in result.asset_events or []:
        instance.report_runless_asset_event(event)
    repository_label = origin.repository_origin.get_label()
    launches: list[Launch] = []
    for request in result.run_requests or []:
        if request.run_key and _run_exists(instance, sensor_name, request.run_key):
            tick = tick.with_run_info(run_key=request.run_key)
            continue
        run_id = make_new_run_id()
        tags = {
            **request.tags,
            SENSOR_NAME_TAG: sensor_name,
            REPOSITORY_LABEL_TAG: repository_label,
            **({RUN_KEY_TAG: request.run_key} if request.run_key else {}),
        }
        launches.append(Launch(request, run_id, tags))
        tick = tick.with_run_info(run_id=run_id, run_key=request.run_key)
    skip_message = result.skip_message
    if result.run_requests and not launches:
        skip_message = "the runs of these run keys exist already"
    status = TickStatus.SUCCESS if launches else TickStatus.SKIPPED
    tick = tick.with_status(status, end_timestamp=time.time())
    if skip_message and not launches:
        tick = tick.with_reason(skip_message)
    instance.update_tick(tick.with_cursor(result.cursor))
    last_run_key = next(
        (launch.request.run_key for launch in reversed(launches) if launch.request.run_key),
        previous.last_run_key,
    )
    instance.update_instigator_state(
        state.with_data(
            SensorInstigatorData(
                last_tick_timestamp=started,
                last_run_key=last_run_key,
                min_interval=sensor.minimum_interval_seconds,
                cursor=result.cursor,
                last_tick_start_timestamp=started,
                last_sensor_start_timestamp=previous.last_sensor_start_timestamp,
                sensor_type=sensor.sensor_type,
                last_tick_success_timestamp=time.time(),
            )
        )
    )
    return RecordedTick(tick.tick_id, launches, skip_message, tuple(result.asset_events or ()))


def _run_exists(instance: dg.DagsterInstance, sensor_name: str, run_key: str) -> bool:
    filters = dg.RunsFilter(tags={SENSOR_NAME_TAG: sensor_name, RUN_KEY_TAG: run_key})
    return bool(instance.get_run_ids(filters, limit=1))
