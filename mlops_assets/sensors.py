"""drift_retraining_sensor: retrain when drift (or a performance drop) is real, without thrashing.

Every new drift_report materialisation is judged by `domain.retraining.decide_retraining`
(debounce over consecutive days, cooldown, nothing already running); each skip says why.
"""

import os
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from mlops_assets.domain.retraining import DayVerdict, RetrainingPolicy, decide_retraining
from mlops_assets.jobs import retraining_job

DRIFT_REPORT = dg.AssetKey("drift_report")
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
TRIGGER_PARTITION_TAG = "mlops/triggered_by_drift_report"
TRIGGER_RUN_TAG = "mlops/drift_report_run"


class RetrainingSettings(dg.ConfigurableResource):
    """How eagerly drift starts a retraining (see domain.retraining.RetrainingPolicy)."""

    debounce_days: int = 2
    cooldown_hours: float = 6.0
    window_days: int = 7
    include_training_source: bool = False

    def policy(self) -> RetrainingPolicy:
        return RetrainingPolicy(
            debounce_days=self.debounce_days,
            cooldown=timedelta(hours=self.cooldown_hours),
            window_days=self.window_days,
        )


def _sensor_status() -> dg.DefaultSensorStatus:
    # `make demo` and `make ui` export MLOPS_DRIFT_SENSOR=on; otherwise turn it on in the UI
    # (Automation -> drift_retraining_sensor -> toggle).
    on = os.environ.get("MLOPS_DRIFT_SENSOR", "off").lower() in ("on", "1", "true")
    return dg.DefaultSensorStatus.RUNNING if on else dg.DefaultSensorStatus.STOPPED


@dg.asset_sensor(
    asset_key=DRIFT_REPORT,
    job=retraining_job,
    name="drift_retraining_sensor",
    minimum_interval_seconds=30,
    default_status=_sensor_status(),
    description=(
        "Starts retraining_job when drift_report is critical or performance dropped for "
        "debounce_days consecutive days, outside the cooldown, with nothing already running."
    ),
)
def drift_retraining_sensor(
    context: dg.SensorEvaluationContext,
    asset_event: dg.EventLogEntry,
    retraining_settings: RetrainingSettings,
) -> dg.RunRequest | dg.SkipReason:
    instance = context.instance
    materialization = asset_event.asset_materialization
    if materialization is None or materialization.partition is None:
        return dg.SkipReason("drift_report event without a partition; nothing to judge")
    policy = retraining_settings.policy()
    newest_day = date.fromisoformat(materialization.partition)
    verdicts = _latest_verdicts(instance, newest_day, policy.debounce_days + policy.window_days)

    in_progress = instance.get_run_records(
        dg.RunsFilter(job_name=retraining_job.name, statuses=IN_PROGRESS), limit=1
    )
    last = instance.get_run_records(dg.RunsFilter(job_name=retraining_job.name), limit=1)
    last_started = (
        datetime.fromtimestamp(last[0].create_timestamp.timestamp(), tz=UTC) if last else None
    )
    decision = decide_retraining(
        verdicts,
        policy=policy,
        now=datetime.now(UTC),
        last_retraining_started=last_started,
        retraining_in_progress=bool(in_progress),
    )
    if not decision.launch:
        return dg.SkipReason(decision.reason)
    assert decision.window_start is not None and decision.window_end is not None
    return dg.RunRequest(
        # One run per triggering report: the same drift never launches twice.
        run_key=f"drift_report:{materialization.partition}:{asset_event.run_id}",
        run_config={
            "ops": {
                "raw_data": {
                    "config": {
                        "window_start": decision.window_start.isoformat(),
                        "window_end": decision.window_end.isoformat(),
                        "include_training_source": retraining_settings.include_training_source,
                    }
                }
            }
        },
        tags={
            TRIGGER_PARTITION_TAG: materialization.partition,
            TRIGGER_RUN_TAG: asset_event.run_id,
            "mlops/reason": decision.reason[:200],
        },
    )


def _latest_verdicts(instance: dg.DagsterInstance, newest: date, days: int) -> list[DayVerdict]:
    """The latest report of each of the `days` days up to `newest`: a bounded query whatever
    the number of past reports, so a tick stays flat as history grows."""
    partitions = [(newest - timedelta(days=i)).isoformat() for i in range(days)]
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=DRIFT_REPORT, asset_partitions=partitions),
        limit=days * 4,
    ).records
    latest: dict[str, dg.AssetMaterialization] = {}
    for record in records:  # newest first
        event = record.asset_materialization
        if event is not None and event.partition and event.partition not in latest:
            latest[event.partition] = event
    verdicts = []
    for partition in sorted(latest):
        metadata = latest[partition].metadata
        verdicts.append(
            DayVerdict(
                day=date.fromisoformat(partition),
                severity=str(metadata["severity"].value),
                performance_dropped=bool(metadata["performance_dropped"].value),
            )
        )
    return verdicts
