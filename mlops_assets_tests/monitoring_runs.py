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


def check_partition_statuses(
    instance: dg.DagsterInstance, check: dg.AssetCheckKey
) -> dict[str, str]:
    """Each daily partition's status in the check's Partitions view, as the webserver computes
    it (its GraphQL `partitionStatuses` loads this same AssetCheckState): SUCCEEDED, FAILED,
    IN_PROGRESS, SKIPPED, EXECUTION_FAILED; a day in none of them shows as missing (grey)."""
    from mlops_assets.defs.monitoring import scoring_partitions
    from mlops_assets.settings import Settings

    daily_partitions = scoring_partitions(Settings.from_env().scoring_start)
    state = instance.event_log_storage.get_asset_check_state([(check, daily_partitions)])[check]
    return {
        day: status.value
        for status, subset in state.subsets.items()
        for day in subset.subset_value.get_partition_keys()
    }


def latest_check_results(instance: dg.DagsterInstance, check: dg.AssetCheckKey) -> dict[str, str]:
    """Each day's latest evaluation of the check: PASSED, or its severity (WARN, ERROR) when it
    failed, as the Partitions view's detail pane shows the selected day."""
    records = instance.event_log_storage.get_asset_check_execution_history(check, limit=1000)
    found: dict[str, str] = {}
    for record in records:  # newest first
        evaluation = record.event.asset_check_evaluation if record.event else None
        if evaluation is not None and evaluation.partition is not None:
            passed = "PASSED" if evaluation.passed else evaluation.severity.value
            found.setdefault(evaluation.partition, passed)
    return found
