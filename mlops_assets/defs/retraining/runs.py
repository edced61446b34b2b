"""The retraining_job runs recorded in a Dagster instance, read as plain data.

drift_retraining_sensor decides the next retraining from them and drift_report shows the latest
one beside the day's verdict; both import this module at module level (it imports neither).
"""

from datetime import UTC, date, datetime
from typing import Any

import dagster as dg

from mlops_assets.contracts import RETRAINING_JOB, WINDOW_END_TAG, WINDOW_START_TAG
from mlops_assets.domain.retraining import AttemptStatus, RetrainingAttempt

# Past retraining runs read per sensor tick: bounded, whatever the history.
ATTEMPTS_READ = 50

_STATUS: dict[dg.DagsterRunStatus, AttemptStatus] = {
    dg.DagsterRunStatus.SUCCESS: "succeeded",
    dg.DagsterRunStatus.FAILURE: "failed",
    # A cancelled retraining did not retrain: like a failure it starts no cooldown and uses
    # one of the episode's attempts.
    dg.DagsterRunStatus.CANCELED: "failed",
}


def retraining_attempts(
    instance: dg.DagsterInstance, limit: int = ATTEMPTS_READ, job: str = RETRAINING_JOB
) -> list[RetrainingAttempt]:
    """The recent runs of `job` (a model's retraining job, the default model's when not given)
    as plain data, newest first. The window comes from the sensor's tags, or from the run
    config of a run launched by hand."""
    attempts = []
    for record in instance.get_run_records(dg.RunsFilter(job_name=job), limit=limit):
        run = record.dagster_run
        ops: Any = run.run_config.get("ops", {})
        config = ops.get("raw_data", {}).get("config", {})
        start = run.tags.get(WINDOW_START_TAG) or config.get("window_start") or ""
        end = run.tags.get(WINDOW_END_TAG) or config.get("window_end") or ""
        attempts.append(
            RetrainingAttempt(
                run_id=run.run_id,
                status=_STATUS.get(run.status, "running"),
                created=datetime.fromtimestamp(record.create_timestamp.timestamp(), tz=UTC),
                window_start=date.fromisoformat(start or end) if end else None,
                window_end=date.fromisoformat(end) if end else None,
            )
        )
    return attempts
