"""Schedules: daily batch prediction, built from the partitioned monitoring job."""


import os

import dagster as dg

from mlops_assets.jobs import daily_monitoring_job

# Each tick runs the partition of the day that just ended. MLOPS_SCORING_CRON moves the hour.
daily_batch_prediction_schedule = dg.build_schedule_from_partitioned_job(
    daily_monitoring_job,
    name="daily_batch_prediction_schedule",
    cron_schedule=os.environ.get("MLOPS_SCORING_CRON", "30 2 * * *"),
    description="Scores yesterday's batch with the champion and writes its drift report.",
)
