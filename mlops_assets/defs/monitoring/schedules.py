"""Schedules: daily batch prediction of the day that just ended."""

import os
from datetime import timedelta

import dagster as dg

from mlops_assets.defs.jobs import daily_monitoring_job

# MLOPS_SCORING_CRON sets when the schedule fires: any cron, not only a time of day.
# Not `dg.build_schedule_from_partitioned_job`: for a time-partitioned job Dagster 1.13 refuses a
# `cron_schedule` (it takes only minute/hour/day offsets of the partitions' own daily cron), and
# its schedule would score a day again each time a cron fires more than once a day. So the tick
# chooses the partition itself, below.
SCORING_CRON = os.environ.get("MLOPS_SCORING_CRON", "30 2 * * *")
SCHEDULE_NAME = "daily_batch_prediction_schedule"
_RETRIED = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def _schedule_status() -> dg.DefaultScheduleStatus:
    # Off unless asked: a code location loaded in production must not start scoring on its own.
    # `make ui` and `make demo` export MLOPS_SCORING_SCHEDULE=on (the laptop's daemon scores
    # yesterday at the cron); elsewhere, toggle it in the UI or `dagster schedule start`.
    on = os.environ.get("MLOPS_SCORING_SCHEDULE", "off").lower() in ("on", "1", "true")
    return dg.DefaultScheduleStatus.RUNNING if on else dg.DefaultScheduleStatus.STOPPED


@dg.schedule(
    job=daily_monitoring_job,
    name=SCHEDULE_NAME,
    cron_schedule=SCORING_CRON,
    default_status=_schedule_status(),
    description="Scores yesterday's batch with the champion and writes its drift report.",
)
def daily_batch_prediction_schedule(
    context: dg.ScheduleEvaluationContext,
) -> dg.RunRequest | dg.SkipReason:
    # The day that ended before this tick; one run per day however often the cron fires.
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    # The job takes its daily partitions from its assets once the repository resolves it.
    partitions = context.repository_def.get_job(daily_monitoring_job.name).partitions_def
    assert partitions is not None
    if not partitions.has_partition_key(day):
        return dg.SkipReason(f"{day} is not a scoring partition (MLOPS_SCORING_START)")
    # Dagster deduplicates a schedule's run keys per tick only: a cron firing more than daily
    # would score the same day again. A failed or cancelled day is tried again.
    earlier = context.instance.get_run_records(
        dg.RunsFilter(
            job_name=daily_monitoring_job.name,
            tags={"dagster/partition": day, "dagster/schedule_name": SCHEDULE_NAME},
            statuses=[s for s in dg.DagsterRunStatus if s not in _RETRIED],
        ),
        limit=1,
    )
    if earlier:
        return dg.SkipReason(f"{day} already scored by run {earlier[0].dagster_run.run_id}")
    return dg.RunRequest(run_key=day, partition_key=day)
