"""Drift and gate outcomes show as check health on their partition: a clean day passes, a
critical drift day is red (ERROR), and neither blocks the day's scoring."""

import dagster as dg
import pytest

from mlops_assets.contracts import DRIFT_CHECK, ESTIMATE_CHECK, REALIZED_CHECK, SCORING_CHECK
from mlops_assets.definitions import defs
from mlops_assets.domain.evaluation import significant
from mlops_assets.resources.data_source import ScoringDataSource
from mlops_assets_tests.monitoring_runs import (
    check_partition_statuses,
    latest_check_results,
    run_day_range,
)

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


DAILY_CHECKS = {
    "scoring_data": SCORING_CHECK,
    "drift_report": DRIFT_CHECK,
    "estimated_performance": ESTIMATE_CHECK,
    "realized_performance": REALIZED_CHECK,
}


@pytest.mark.slow
def test_every_daily_check_colours_each_day_of_a_backfill_in_its_partitions_view(trained):
    """The check's Partitions view (Dagster's AssetCheckState, what the webserver's
    `partitionStatuses` returns) counts an evaluation only when it targets the day's latest
    materialisation: a range run's days, and a day re-run alone, are red or green, none grey."""
    first, last = "2026-01-04", "2026-01-10"
    resources = trained.resources(scoring_source=ScoringDataSource(drift_start="2026-01-09"))
    assert run_day_range(trained, resources, first, last).success
    _day(trained, last)  # the schedule's path: one partition, re-materialised
    days = [f"2026-01-{n:02d}" for n in range(4, 11)]
    seen = {}
    for asset, name in DAILY_CHECKS.items():
        key = dg.AssetCheckKey(dg.AssetKey(asset), name)
        statuses = check_partition_statuses(trained.instance, key)
        results = latest_check_results(trained.instance, key)
        for day in days:
            expected = "SUCCEEDED" if results[day] == "PASSED" else "FAILED"
            assert statuses.get(day, "MISSING") == expected, (asset, day, results[day])
        seen[asset] = [results[day] for day in days]
    # Before the drift every check passes; on its days drift and the realized drop are red
    # (ERROR), the label-free estimate's drop yellow (WARN) in the day's detail.
    assert set(seen["scoring_data"]) == {"PASSED"}
    for asset in DAILY_CHECKS:
        assert seen[asset][0] == "PASSED", asset
    assert seen["drift_report"][-1] == "ERROR"
    assert seen["realized_performance"][-1] == "ERROR"
    assert seen["estimated_performance"][-1] == "WARN"


def _floats(metadata) -> dict[str, float]:
    return {k: v.value for k, v in metadata.items() if isinstance(v, dg.FloatMetadataValue)}


def test_the_figures_a_person_reads_keep_four_significant_digits_and_none_plots_flat(trained):
    day = "2026-01-11"  # drifted: every figure present, intervals included
    result = _day(trained, day)
    recorded = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    recorded.update({f"check {name}": e.metadata for name, e in _evaluations(result).items()})
    assert len(recorded) == 13  # seven assets and six checks (data quality, the challenger)
    for where, metadata in recorded.items():
        for key, value in _floats(metadata).items():
            assert value == significant(value), (where, key, value)
    report = recorded["drift_report"]
    assert 0 < report["drifted_share"].value < 1 and report["accuracy"].value > 0
    for constant in ("performance_confidence", "performance_min_effect", "reference_n"):
        assert constant not in report, constant
    assert report["performance_settings"].value["confidence"] == 0.95
