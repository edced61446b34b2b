"""A day's data quality as drift_report and its checks show it, on palmerpenguins: a clean day
passes, a day with 45 % of a column's categories re-spelled is red naming the column and the
share, and a file delivered twice is counted and judged on its birds once."""

from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.contracts import DATA_QUALITY_CHECK, DRIFT_CHECK
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
from mlops_assets_tests.failures import step_failure
from mlops_assets_tests.monitoring_runs import run_day_range

palmerpenguins = pytest.importorskip("palmerpenguins")

FIRST = date(2026, 1, 2)
CLEAN, RESPELLED, TWICE = ((FIRST + timedelta(days=n)).isoformat() for n in range(3))


@pytest.fixture(scope="module")
def days(module_project, tmp_path_factory):
    """One run that the module's tests only read. Trained on 2007-2008; 2009's birds, labelled,
    as daily files: half of them clean, the other half with 45 % of their islands written in
    capitals, and the clean file twice."""
    frame = palmerpenguins.load_penguins().sort_values("year", kind="stable")
    frame.insert(0, "sighting_id", np.arange(1, len(frame) + 1))
    project, tmp_path = module_project, tmp_path_factory.mktemp("penguin-days")
    training = tmp_path / "penguins-2007-2008.csv"
    frame[frame["year"] < 2009].to_csv(training, index=False)
    source = TrainingDataSource(
        location=str(training), target_column="species", id_columns="sighting_id"
    )
    trained = project.train(data_source=source)
    assert trained.success, step_failure(trained)

    later = frame[frame["year"] == 2009].sample(frac=1.0, random_state=0)
    clean, respelled = later.iloc[:60], later.iloc[60:120].copy()
    changed = respelled.sample(n=27, random_state=0).index  # 27 of 60: 45 %
    respelled.loc[changed, "island"] = respelled.loc[changed, "island"].str.upper()
    batches = tmp_path / "batches"
    batches.mkdir()
    clean.to_csv(batches / f"{CLEAN}.csv", index=False)
    respelled.to_csv(batches / f"{RESPELLED}.csv", index=False)
    pd.concat([clean, clean]).to_csv(batches / f"{TWICE}.csv", index=False)
    resources = project.resources(
        data_source=source, scoring_source=ScoringDataSource(location=str(batches))
    )
    return run_day_range(project, resources, CLEAN, TWICE)


def _checks(result, name):
    return {
        e.asset_check_evaluation_data.partition: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.asset_check_evaluation_data.check_name == name
    }


def _metadata(result, asset):
    return {
        e.partition: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == asset
    }


@pytest.mark.slow
def test_data_quality_shows_per_day_in_drift_report_and_its_check(days, module_project):
    result = days
    assert result.success, step_failure(result)
    checks = _checks(result, DATA_QUALITY_CHECK)
    report = _metadata(result, "drift_report")

    # A clean day: green, with its figures at zero.
    assert checks[CLEAN].passed, checks[CLEAN].description
    assert report[CLEAN]["data_quality_severity"] == "none"
    assert report[CLEAN]["duplicate_rows"] == 0
    assert report[CLEAN]["max_unseen_category_share"] == 0

    # 45 % of the islands re-spelled: red, naming the column and the share.
    respelled = checks[RESPELLED]
    assert not respelled.passed
    assert respelled.severity == dg.AssetCheckSeverity.ERROR
    assert "`island`: 45.0% of rows have a category training never had" in respelled.description
    assert report[RESPELLED]["max_unseen_category_share"] == pytest.approx(0.45)
    assert "| unseen_category_share |" in report[RESPELLED]["features"].replace("  ", " ")
    # Data-quality drift is drift: the drift check names the finding too, critical as it is.
    drift = _checks(result, DRIFT_CHECK)[RESPELLED]
    assert drift.partition == RESPELLED
    assert drift.severity == dg.AssetCheckSeverity.ERROR
    assert "data-quality drift: `island`: 45.0% of rows" in drift.description

    # The same file twice: its 60 repeated ids counted, the day red.
    twice = checks[TWICE]
    assert not twice.passed
    assert "60 duplicated rows (50.0% of the day, same ids sighting_id)" in twice.description
    assert report[TWICE]["duplicate_rows"] == 60
    assert report[TWICE]["duplicate_share"] == 0.5

    # The instance keeps each day's result on its own partition, for the Checks tab.
    key = dg.AssetCheckKey(dg.AssetKey("drift_report"), DATA_QUALITY_CHECK)
    history = module_project.instance.event_log_storage.get_asset_check_execution_history(key, 10)
    recorded = {
        r.event.asset_check_evaluation.partition: r.event.asset_check_evaluation.severity
        for r in history
        if r.event and not r.event.asset_check_evaluation.passed
    }
    assert recorded == {
        RESPELLED: dg.AssetCheckSeverity.ERROR,
        TWICE: dg.AssetCheckSeverity.ERROR,
    }


@pytest.mark.slow
def test_a_file_delivered_twice_is_judged_on_each_bird_once(days):
    result = days
    assert result.success, step_failure(result)
    realized = _metadata(result, "realized_performance")
    report = _metadata(result, "drift_report")

    # 120 rows scored, 60 birds judged: the interval is the single delivery's, not narrower.
    assert realized[TWICE]["labelled_rows"] == 60
    assert realized[TWICE]["duplicate_ids"] == 60
    for bound in ("accuracy", "accuracy_ci_low", "accuracy_ci_high"):
        assert realized[TWICE][bound] == pytest.approx(realized[CLEAN][bound])
    assert report[TWICE]["labelled_rows"] == report[CLEAN]["labelled_rows"] == 60
    assert report[TWICE]["accuracy_ci_low"] == pytest.approx(report[CLEAN]["accuracy_ci_low"])
    # The label-free estimate counts each bird once too.
    estimated = _metadata(result, "estimated_performance")
    for bound in ("estimated_accuracy", "estimated_accuracy_low", "estimated_accuracy_high"):
        assert estimated[TWICE][bound] == pytest.approx(estimated[CLEAN][bound])
