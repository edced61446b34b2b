"""Running the daily monitoring job the way a backfill does, for tests of several files."""

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

# evidently's HTML report is left out: it costs seconds a day and no verdict depends on it.
QUICK = {"ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}}


def run_day_range(project, resources, first: str, last: str) -> dg.ExecuteInProcessResult:
    """`daily_monitoring_job` over the days first..last in one run, as an asset backfill with
    `BackfillPolicy.single_run()` launches it (the range in the run's tags)."""
    from mlops_assets.definitions import defs

    return defs.resolve_job_def("daily_monitoring_job").execute_in_process(
        instance=project.instance,
        resources=resources,
        run_config=QUICK,
        tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last},
        raise_on_error=False,
    )
