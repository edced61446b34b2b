"""Drift and gate outcomes show as check health on their partition: a clean day passes, a
critical drift day is red (ERROR), and neither blocks the day's scoring."""

import dagster as dg

from mlops_assets.contracts import DRIFT_CHECK, ESTIMATE_CHECK, REALIZED_CHECK, SCORING_CHECK
from mlops_assets.definitions import defs
from mlops_assets.resources.data_source import ScoringDataSource

CLEAN_DAY, DRIFTED_DAY = "2026-01-03", "2026-01-12"


def _day(trained, day: str) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("daily_monitoring_job").execute_in_process(
        partition_key=day,
        instance=trained.instance,
        resources=trained.resources(scoring_source=ScoringDataSource(drift_start="2026-01-09")),
        run_config={
            "ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}
        },
    )


def _evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }


def test_a_clean_day_passes_and_a_critical_day_is_an_error_on_its_partition(trained):
    clean = _evaluations(_day(trained, CLEAN_DAY))
    assert clean[DRIFT_CHECK].passed, clean[DRIFT_CHECK].description
    assert clean[DRIFT_CHECK].partition == CLEAN_DAY
    assert clean[SCORING_CHECK].partition == CLEAN_DAY

    drifted_run = _day(trained, DRIFTED_DAY)
    assert drifted_run.success  # non-blocking: the day is scored and reported
    drifted = _evaluations(drifted_run)[DRIFT_CHECK]
    assert not drifted.passed
    assert drifted.severity == dg.AssetCheckSeverity.ERROR
    assert drifted.partition == DRIFTED_DAY
    assert drifted.metadata["severity"].value == "critical" or (
        drifted.metadata["performance_dropped"].value
    )
    assert "drift" in drifted.description or "performance dropped" in drifted.description
    # Labels in the batch: the day's realized accuracy collapsed (concept drift), a red check;
    # the estimate cannot see concept drift, and its check is on the day's partition too.
    day = _evaluations(drifted_run)
    assert not day[REALIZED_CHECK].passed
    assert day[REALIZED_CHECK].severity == dg.AssetCheckSeverity.ERROR
    assert day[REALIZED_CHECK].partition == DRIFTED_DAY
    assert day[ESTIMATE_CHECK].partition == DRIFTED_DAY
    assert clean[REALIZED_CHECK].passed, clean[REALIZED_CHECK].description

    # The instance keeps each day's result on its own partition, for the UI.
    key = dg.AssetCheckKey(dg.AssetKey("drift_report"), DRIFT_CHECK)
    records = trained.instance.event_log_storage.get_asset_check_execution_history(key, limit=10)
    by_partition = {r.event.asset_check_evaluation.partition: r for r in records if r.event}
    assert {CLEAN_DAY, DRIFTED_DAY} <= set(by_partition)
