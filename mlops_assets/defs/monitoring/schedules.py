"""Schedules: daily batch prediction of the day that just ended."""

from datetime import timedelta

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.defs.monitoring.jobs import DAILY_MONITORING_JOB
from mlops_assets.settings import Settings

SCHEDULE_NAME = "daily_batch_prediction_schedule"
_RETRIED = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def daily_batch_prediction_schedule(settings: Settings, names: ModelNames) -> dg.ScheduleDefinition:
    """The model's schedule as its settings configure it. MLOPS_SCORING_CRON (a declared
    model's `schedule.cron`) sets when it fires: any cron, not only a time of day. Off unless
    MLOPS_SCORING_SCHEDULE is on (`schedule.enabled`): a code location loaded in production
    must not start scoring on its own. `make ui` and `make demo` turn it on (the laptop's
    daemon scores yesterday at the cron); elsewhere, toggle it in the UI or
    `dagster schedule start`.

    Not `dg.build_schedule_from_partitioned_job`: for a time-partitioned job Dagster 1.13
    refuses a `cron_schedule` (it takes only minute/hour/day offsets of the partitions' own
    daily cron), and its schedule would score a day again each time a cron fires more than
    once a day. So the tick chooses the partition itself."""
    job, name = names.job(DAILY_MONITORING_JOB), names.job(SCHEDULE_NAME)

    def yesterday(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        return _yesterday(context, job, name)

    return dg.ScheduleDefinition(
        name=name,
        job_name=job,
        cron_schedule=settings.scoring_cron,
        execution_fn=yesterday,
        default_status=dg.DefaultScheduleStatus.RUNNING
        if settings.scoring_schedule_on
        else dg.DefaultScheduleStatus.STOPPED,
        description="Scores yesterday's batch with the champion and writes its drift report.",
    )


def _yesterday(
    context: dg.ScheduleEvaluationContext, job: str, schedule: str
) -> dg.RunRequest | dg.SkipReason:
    # The day that ended before this tick; one run per day however often the cron fires.
    day = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
    # The job takes its daily partitions from its assets once the repository resolves it.
    partitions = context.repository_def.get_job(job).partitions_def
    assert partitions is not None
    if not partitions.has_partition_key(day):
        return dg.SkipReason(f"{day} is not a scoring partition (MLOPS_SCORING_START)")
    # Dagster deduplicates a schedule's run keys per tick only: a cron firing more than daily
    # would score the same day again. A failed or cancelled day is tried again.
    earlier = context.instance.get_run_records(
        dg.RunsFilter(
            job_name=job,
            tags={"dagster/partition": day, "dagster/schedule_name": schedule},
            statuses=[s for s in dg.DagsterRunStatus if s not in _RETRIED],
        ),
        limit=1,
    )
    if earlier:
        return dg.SkipReason(f"{day} already scored by run {earlier[0].dagster_run.run_id}")
    return dg.RunRequest(run_key=day, partition_key=day)
