"""Data-quality drift is drift (issue 29), as drift_report's check shows it in the UI, on the
shipped diamonds sample (ggplot2's, MIT: mlops_assets_tests/data/diamonds/README.md).

The issue's measurement on a real table: the daily missing share of two features doubles (10 %
-> 22 %) and a category the model never saw arrives in 31 to 111 rows a day; every check stayed
green and the drift report called both features not drifted. Here the champion is trained on
4,000 stones whose `depth` and `table` are 10 % missing, then two days of 1,000 other stones are
scored: a clean one (10 % missing, the same colours) and a faulty one (22 % missing in both,
31 stones of a colour `K` the model never saw: the issue's smallest count)."""

from datetime import date
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.contracts import DATA_QUALITY_CHECK, DRIFT_CHECK
from mlops_assets.domain.verdicts import DriftVerdict
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
from mlops_assets_tests.failures import step_failure
from mlops_assets_tests.monitoring_runs import run_day_range

DIAMONDS = Path(__file__).parent.parent / "data" / "diamonds" / "diamonds_sample.csv"
CLEAN, FAULTY = "2026-01-02", "2026-01-03"
GAPPY = ("depth", "table")


def _with_missing(frame: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    for column in GAPPY:
        frame.loc[rng.random(len(frame)) < share, column] = np.nan
    return frame


@pytest.fixture(scope="module")
def days(module_project, tmp_path_factory):
    stones = pd.read_csv(DIAMONDS)
    tmp = tmp_path_factory.mktemp("diamond-days")
    training = tmp / "diamonds.csv"
    _with_missing(stones.iloc[:4000], 0.10, seed=1).to_csv(training, index=False)
    source = TrainingDataSource(location=str(training), target_column="cut")
    trained = module_project.train(data_source=source)
    assert trained.success, step_failure(trained)

    batches = tmp / "batches"
    batches.mkdir()
    _with_missing(stones.iloc[4000:5000], 0.10, seed=2).to_csv(
        batches / f"{CLEAN}.csv", index=False
    )
    faulty = _with_missing(stones.iloc[5000:6000], 0.22, seed=3)
    faulty.loc[faulty.index[:31], "color"] = "K"  # D (best) to J in training
    faulty.to_csv(batches / f"{FAULTY}.csv", index=False)
    resources = module_project.resources(
        data_source=source, scoring_source=ScoringDataSource(location=str(batches))
    )
    result = run_day_range(module_project, resources, CLEAN, FAULTY)
    assert result.success, step_failure(result)
    return module_project, result


def _latest(instance: dg.DagsterInstance, check: str) -> dict[str, dg.AssetCheckEvaluation]:
    """Each day's latest evaluation of the check as the instance keeps it for the Checks tab."""
    key = dg.AssetCheckKey(dg.AssetKey("drift_report"), check)
    found: dict[str, dg.AssetCheckEvaluation] = {}
    for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=20):
        evaluation = record.event.asset_check_evaluation if record.event else None
        if evaluation is not None and evaluation.partition is not None:
            found.setdefault(evaluation.partition, evaluation)
    return found


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, dict[str, object]]:
    return {
        e.partition: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == asset
    }


@pytest.mark.slow
def test_a_doubled_missing_share_and_an_unseen_category_are_the_days_drift(days):
    project, result = days
    drift = _latest(project.instance, DRIFT_CHECK)

    faulty = drift[FAULTY]
    assert not faulty.passed
    assert faulty.severity == dg.AssetCheckSeverity.WARN
    assert "data-quality drift:" in faulty.description
    for finding in (
        "`depth`: ",
        "`table`: ",
        "`color`: 3.1% of rows have a category training never had ('K')",
    ):
        assert finding in faulty.description, faulty.description
    # What drift_retraining_sensor reads back: the day's severity, with its findings.
    report = _metadata(result, "drift_report")
    verdict = DriftVerdict.from_metadata(date.fromisoformat(FAULTY), report[FAULTY])
    assert verdict.severity == "warning"
    assert len(verdict.data_quality_findings) == 3
    # The data-quality check says the same, as before.
    assert not _latest(project.instance, DATA_QUALITY_CHECK)[FAULTY].passed


@pytest.mark.slow
def test_a_clean_day_of_the_same_table_stays_green(days):
    project, result = days
    clean = _latest(project.instance, DRIFT_CHECK)[CLEAN]
    assert clean.passed, clean.description
    report = _metadata(result, "drift_report")[CLEAN]
    assert report["severity"] == "none"
    assert report["data_quality_drift"] == "none"
    assert _latest(project.instance, DATA_QUALITY_CHECK)[CLEAN].passed


@pytest.mark.slow
def test_the_estimate_says_how_much_of_the_day_it_could_not_vouch_for(days):
    _, result = days
    estimated = _metadata(result, "estimated_performance")
    # Training had the gaps (10 %), not the colour K: the 31 stones of K are unvouched.
    assert estimated[FAULTY]["unvouched_share"] == pytest.approx(0.031)
    assert "could not vouch for 3.1% of the day's rows" in str(estimated[FAULTY]["estimate"])
    assert estimated[CLEAN]["unvouched_share"] == 0
    assert "vouches for every row of the day" in str(estimated[CLEAN]["estimate"])
