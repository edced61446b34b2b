"""drift_retraining_sensor: retrain when drift (or a performance drop) is real, without thrashing.

Each tick reads, for each recent day, the latest drift_report (feature drift; the realized
performance when labels came with the features), realized_performance (labels delivered on
their own, maybe days later) and estimated_performance (the label-free estimate), and the
recent retraining_job runs, all of its own model (a sensor is built per model: one model's
drift never retrains another); and `domain.retraining.decide_retraining` says which retraining
the data calls for next (debounce over consecutive days, cooldown in data days, bounded retries
after a failure, a wall-clock loop guard); each skip says why. The tick judges the state, not
the newest event, so a backfill of days starts the same retrainings as days scored one a day.
"""

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.contracts import (
    ATTEMPT_TAG,
    REASON_TAG,
    SIGNALS_TAG,
    TRIGGER_PARTITION_TAG,
    TRIGGER_RUN_TAG,
    WINDOW_END_TAG,
    WINDOW_START_TAG,
)
from mlops_assets.defs.retraining.jobs import evaluation_report_op, raw_data_op, retraining_job
from mlops_assets.defs.retraining.runs import retraining_attempts
from mlops_assets.domain.retraining import DayVerdict, decide_retraining
from mlops_assets.domain.retraining_policy import RetrainingPolicy
from mlops_assets.domain.verdicts import DriftVerdict, EstimatedVerdict, RealizedVerdict
from mlops_assets.settings import Settings

# Reports read on a tick without a cursor to find the newest day.
_NEWEST_SCAN = 100

# A digest of the last decision, in the cursor (short: the tick list shows cursors), and the
# decision's text on drift_report when it changes (_decided).
DECISION_KEY = "decision"
DECISION_METADATA = "retraining_decision"


class RetrainingSettings(RetrainingPolicy, dg.ConfigurableResource):
    """The drift_retraining_sensor's resource: the retraining policy itself (its fields,
    defaults and checks) with Dagster's resource base, so that the UI shows it and a test or a
    deployment can bind another. Built from `Settings.retraining` (definitions.py), or from a
    model's YAML `retraining:` (components/model.py)."""

    @classmethod
    def of(cls, policy: RetrainingPolicy) -> "RetrainingSettings":
        return cls(**policy.model_dump())


def verdict_assets(names: ModelNames) -> tuple[dg.AssetKey, ...]:
    """The day's three signals: feature drift, the realized verdict of its labels (which may
    land days later, or be corrected), and the label-free estimate."""
    return (names.drift_report, names.realized_performance, names.estimated_performance)


def sensor_status(on: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if on else dg.DefaultSensorStatus.STOPPED


def drift_retraining_sensor(settings: Settings, names: ModelNames) -> dg.SensorDefinition:
    """The model's drift_retraining_sensor (`car_loan__drift_retraining_sensor`): it reads only
    its model's drift reports, estimates and realized performance, and its model's retraining
    runs, and starts only its model's retraining_job.

    How often it is evaluated is `settings.sensor_interval_seconds`: what it judges changes once
    a day per partition (a scored day, a label delivery), so a tick every 5 minutes (the
    default) reacts within minutes of a run while keeping the tick list readable: 12 ticks an
    hour, not 120 (every 30 s), each skip alike until the data changes. Dagster records every
    evaluation, news or not; a changed decision is also written on drift_report (_decided),
    where a person reads it. It starts running when `settings.drift_sensor_on` (`make demo`
    and `make ui` export MLOPS_DRIFT_SENSOR=on; a model's YAML says `drift_sensor: true`);
    otherwise turn it on in the UI (Automation -> the sensor -> toggle)."""
    policy_key = names.resource("retraining_settings")
    job = retraining_job(names)

    @dg.sensor(
        job=job,
        name=names.job("drift_retraining_sensor"),
        minimum_interval_seconds=settings.sensor_interval_seconds,
        default_status=sensor_status(settings.drift_sensor_on),
        required_resource_keys={policy_key},
        description=(
            f"Starts {job.name} when feature drift is critical, the realized performance "
            "dropped or (before labels arrive) the trusted estimate dropped, for debounce_days "
            "consecutive days, on the streak's labelled days (waiting for labels when too few "
            "have arrived), cooldown_days data days after the last successful retraining's "
            "window, with failed attempts retried up to max_attempts per episode."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        policy = cast(RetrainingSettings, getattr(context.resources, policy_key))
        return _evaluate(context, names, policy)

    return _sensor


def _evaluate(
    context: dg.SensorEvaluationContext, names: ModelNames, policy: RetrainingPolicy
) -> dg.SensorResult:
    instance = context.instance
    previous = json.loads(context.cursor).get(DECISION_KEY) if context.cursor else None
    newest, cursor = _newest_report_day(instance, names, context.cursor)
    if newest is None:
        return _decided(names, cursor, previous, None, "no drift report yet")
    verdicts, report_runs = _latest_verdicts(instance, names, newest, policy.lookback_days)
    decision = decide_retraining(
        verdicts,
        retraining_attempts(instance, names=names),
        policy=policy,
        now=datetime.now(UTC),
    )
    if not decision.launch:
        return _decided(names, cursor, previous, newest, decision.reason)
    assert decision.window_start is not None and decision.window_end is not None
    start, end = decision.window_start.isoformat(), decision.window_end.isoformat()
    request = dg.RunRequest(
        # One run per window and attempt: the same decision never launches twice.
        run_key=f"retraining:{start}:{end}:attempt-{decision.attempt}",
        run_config={
            "ops": {
                raw_data_op(names): {
                    "config": {
                        "window_start": start,
                        "window_end": end,
                        "include_training_source": policy.include_training_source,
                    }
                },
                evaluation_report_op(names): {
                    "config": {"refit_on_window": policy.refit_on_window}
                },
            }
        },
        tags={
            TRIGGER_PARTITION_TAG: end,
            TRIGGER_RUN_TAG: report_runs.get(decision.window_end, ""),
            WINDOW_START_TAG: start,
            WINDOW_END_TAG: end,
            ATTEMPT_TAG: str(decision.attempt),
            REASON_TAG: decision.reason[:200],
            SIGNALS_TAG: ",".join(decision.signals),
        },
    )
    launched = f"launched retraining attempt {decision.attempt}: {decision.reason}"
    return _decided(names, cursor, previous, newest, launched, request)


def _decided(
    names: ModelNames,
    cursor: str,
    previous: str | None,
    newest: date | None,
    decision: str,
    request: dg.RunRequest | None = None,
) -> dg.SensorResult:
    """The tick's result. Its decision's digest is kept in the cursor; when it differs from the last
    tick's (news: a new day judged, labels landed, a launch), it is also recorded on the newest
    day's drift_report as an observation (`retraining_decision`), which the asset's Events and
    the partition's page show as text, no hovering, however many alike ticks followed."""
    state = json.loads(cursor)
    digest = hashlib.sha256(decision.encode()).hexdigest()[:12]
    state[DECISION_KEY] = digest
    events = []
    if digest != previous and newest is not None:
        events.append(
            dg.AssetObservation(
                asset_key=names.drift_report,
                partition=newest.isoformat(),
                metadata={
                    DECISION_METADATA: dg.MetadataValue.text(decision),
                    "retraining_launched": dg.MetadataValue.bool(request is not None),
                },
            )
        )
    return dg.SensorResult(
        run_requests=[request] if request is not None else None,
        skip_reason=None if request is not None else decision,
        cursor=json.dumps(state, sort_keys=True),
        asset_events=events,
    )


def _newest_report_day(
    instance: dg.DagsterInstance, names: ModelNames, cursor: str | None
) -> tuple[date | None, str]:
    """The newest day with a drift report, and the cursor that remembers it with the last
    materialisation seen of each of the three verdict assets: each tick reads only what was
    written since the last one (bounded pages). Every tick judges the whole recent state, so
    labels landing for an old day (a new realized_performance) are acted on at the next tick;
    the cursor makes a new materialisation of any of the three visible in the tick's state."""
    state = json.loads(cursor) if cursor else {}
    seen: dict[str, int] = state.get("seen", {})
    if isinstance(state.get("after"), int):  # a cursor written before the three signals
        seen.setdefault(names.drift_report.to_user_string(), state["after"])
    newest = date.fromisoformat(state["newest"]) if state.get("newest") else None
    for key in verdict_assets(names):
        after = seen.get(key.to_user_string())
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_storage_id=after),
            limit=1000 if after is not None else _NEWEST_SCAN,
            ascending=after is not None,
        ).records
        for record in records:
            event = record.asset_materialization
            if key == names.drift_report and event is not None and event.partition:
                day = date.fromisoformat(event.partition)
                newest = day if newest is None else max(newest, day)
            after = max(after or 0, record.storage_id)
        if after is not None:
            seen[key.to_user_string()] = after
    state = {"seen": seen, "newest": newest.isoformat() if newest else None}
    return newest, json.dumps(state, sort_keys=True)


def _latest_records(
    instance: dg.DagsterInstance, key: dg.AssetKey, partitions: list[str]
) -> dict[str, dg.EventLogRecord]:
    """The latest materialisation of `key` per partition: a bounded query whatever the number
    of past materialisations (a few per day: reruns, corrected labels)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=partitions),
        limit=len(partitions) * 4,
    ).records
    latest: dict[str, dg.EventLogRecord] = {}
    for record in records:  # newest first
        event = record.asset_materialization
        if event is not None and event.partition and event.partition not in latest:
            latest[event.partition] = record
    return latest


def _metadata(record: dg.EventLogRecord) -> Mapping[str, Any]:
    assert record.asset_materialization is not None
    return record.asset_materialization.metadata


def _latest_verdicts(
    instance: dg.DagsterInstance, names: ModelNames, newest: date, days: int
) -> tuple[list[DayVerdict], dict[date, str]]:
    """Each of the `days` days up to `newest` with a drift report, as the latest drift_report,
    realized_performance and estimated_performance of that day say (and the run that wrote
    the report)."""
    partitions = [(newest - timedelta(days=i)).isoformat() for i in range(days)]
    reports = _latest_records(instance, names.drift_report, partitions)
    realized = _latest_records(instance, names.realized_performance, partitions)
    estimated = _latest_records(instance, names.estimated_performance, partitions)
    verdicts, runs = [], {}
    for partition in sorted(reports):
        day = date.fromisoformat(partition)
        verdicts.append(
            day_verdict(
                day,
                _metadata(reports[partition]),
                _metadata(realized[partition]) if partition in realized else None,
                _metadata(estimated[partition]) if partition in estimated else None,
            )
        )
        runs[day] = reports[partition].run_id or ""
    return verdicts, runs


def day_verdict(
    day: date,
    drift_report: Mapping[str, Any],
    realized_performance: Mapping[str, Any] | None = None,
    estimated_performance: Mapping[str, Any] | None = None,
) -> DayVerdict:
    """One day's three signals from the metadata of its latest materialisations.

    The labels have arrived when realized_performance judged labelled rows, or drift_report
    did (labels in the batch); a report that predates `labelled` and `labelled_rows` reads as
    labelled, as every report was before labels could come later. The realized verdict of
    delivered labels replaces drift_report's; an estimate counts only when trusted."""
    report = DriftVerdict.from_metadata(day, drift_report)
    dropped = report.performance.dropped
    labelled = report.performance.n > 0 or not {"labelled", "labelled_rows"} & set(drift_report)
    if realized_performance is not None:
        realized = RealizedVerdict.from_metadata(day, realized_performance)
        if realized.performance.n > 0:
            labelled, dropped = True, realized.performance.dropped
    estimate_dropped = False
    if estimated_performance is not None:
        estimate = EstimatedVerdict.from_metadata(day, estimated_performance)
        estimate_dropped = estimate.trusted and estimate.dropped
    return DayVerdict(
        day,
        report.severity,
        performance_dropped=dropped,
        estimated_dropped=estimate_dropped,
        labelled=labelled,
        drift_source=report.drift_source,
    )
