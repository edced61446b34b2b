"""The retraining_job runs recorded in a Dagster instance, read as plain data.

drift_retraining_sensor decides the next retraining from them and drift_report shows the latest
one beside the day's verdict; both import this module at module level (it imports neither).
"""

from datetime import UTC, date, datetime
from typing import Any

import dagster as dg

from mlops_assets.asset_keys import DEFAULT, ModelNames
from mlops_assets.contracts import (
    RETRAINING_JOB,
    ROLLED_BACK_ON_TAG,
    WINDOW_END_TAG,
    WINDOW_START_TAG,
)
from mlops_assets.defs.retraining.jobs import raw_data_op
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
    instance: dg.DagsterInstance, limit: int = ATTEMPTS_READ, names: ModelNames = DEFAULT
) -> list[RetrainingAttempt]:
    """The recent runs of the model's retraining_job as plain data, newest first (another
    model's retrainings are not its attempts). The window comes from the sensor's tags, or
    from the run config of a run launched by hand."""
    attempts = []
    runs = dg.RunsFilter(job_name=names.job(RETRAINING_JOB))
    for record in instance.get_run_records(runs, limit=limit):
        run = record.dagster_run
        ops: Any = run.run_config.get("ops", {})
        config = ops.get(raw_data_op(names), {}).get("config", {})
        start = run.tags.get(WINDOW_START_TAG) or config.get("window_start") or ""
        end = run.tags.get(WINDOW_END_TAG) or config.get("window_end") or ""
        rolled_back = run.tags.get(ROLLED_BACK_ON_TAG, "")
        attempts.append(
            RetrainingAttempt(
                run_id=run.run_id,
                status=_STATUS.get(run.status, "running"),
                created=datetime.fromtimestamp(record.create_timestamp.timestamp(), tz=UTC),
                window_start=date.fromisoformat(start or end) if end else None,
                window_end=date.fromisoformat(end) if end else None,
                rolled_back_on=date.fromisoformat(rolled_back) if rolled_back else None,
            )
        )
    return attempts
