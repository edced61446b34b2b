"""The loop the product exists for, shortened: clean days, drift, a sensor-started retraining,
a better champion, recovered accuracy. Same code path as `make demo` (`demo.run_loop`)."""

from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlops_assets.contracts import (
    CHAMPION_ALIAS,
    MODEL_VERSION_KEY,
    SIGNALS_TAG,
    TRAINING_DATA_HASH_KEY,
    WINDOW_END_TAG,
    WINDOW_START_TAG,
)
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
from mlops_assets.resources.io_managers import asset_path
from mlops_assets.tools.demo import LabelDelivery, run_loop

# Whole monitoring loops: a training, then days scored and the sensor ticked after each.
pytestmark = pytest.mark.slow

FIRST_DAY = date(2026, 1, 2)
DRIFT_START = FIRST_DAY + timedelta(days=3)


# Built once for the module: the two tests that use it only read the loop's outcome.
@pytest.fixture(scope="module")
def loop(module_project):
    project = module_project
    resources = project.resources(
        data_source=TrainingDataSource(synthetic_rows=3000),
        scoring_source=ScoringDataSource(drift_start=DRIFT_START.isoformat()),
    )
    assert project.train(data_source=TrainingDataSource(synthetic_rows=3000)).success
    rows = run_loop(project.instance, FIRST_DAY, 8, resources=resources, log=lambda _: None)
    return project, rows


def test_drift_loop_retrains_once_and_recovers(loop):
    project, rows = loop
    clean, drifted = rows[:3], rows[3:5]
    assert all(r.severity != "critical" for r in clean)
    assert all("retrained" not in r.event for r in clean)
    assert all(r.severity == "critical" or r.performance_dropped for r in drifted)
    retrain_days = [r.day for r in rows if "retrained" in r.event]
    assert retrain_days == [(DRIFT_START + timedelta(days=1)).isoformat()]
    assert "promoted" in rows[4].event

    # After the retraining the new champion scores, and accuracy is back.
    after = rows[5:]
    assert {r.model_version for r in rows[:5]} == {"1"}
    assert {r.model_version for r in after} == {"2"}
    old_model_on_drift = sum(r.accuracy for r in drifted) / len(drifted)
    new_model_on_drift = sum(r.accuracy for r in after) / len(after)
    assert new_model_on_drift > old_model_on_drift + 0.03
    assert project.registry().version_by_alias(CHAMPION_ALIAS).version == "2"

    # The retraining run says why it ran.
    (run,) = project.instance.get_runs(dg.RunsFilter(job_name="retraining_job"))
    assert run.tags["mlops/triggered_by_drift_report"] == rows[4].day


def test_every_prediction_traces_to_a_model_version_and_training_data(loop):
    project, rows = loop
    path = asset_path(dg.AssetKey("batch_predictions"), rows[-1].day)
    footer = pq.read_schema(path).metadata
    assert footer[MODEL_VERSION_KEY.encode()] == b"2"
    predictions = pd.read_parquet(path)
    champion = project.registry().version_by_alias(CHAMPION_ALIAS)
    assert set(predictions["model_version"]) == {"2"}
    assert set(predictions["training_data_hash"]) == {champion.tags["data_hash"]}
    assert footer[TRAINING_DATA_HASH_KEY.encode()].decode() == champion.tags["data_hash"]
    assert len(predictions) == 1000


def _user_table(n: int, seed: int, drifted: bool) -> pd.DataFrame:
    """A table with a concept a model can learn, as a user's daily files would hold it.

    The label is `score > 0` XOR `reach > 4.5`, with 3 % of labels flipped. Before the drift
    `reach` stays near 0, so a model learns `score > 0` alone; after it, `reach` moves far
    beyond the training range (nearly every value outside the padded range the first schema
    learned) and the XOR flips most labels, and a new `channel` ("partner") appears. The old
    model cannot know either; a model retrained on the drifted days can.
    """
    rng = np.random.default_rng(seed)
    channels = ["web", "branch", "phone", *(["partner"] if drifted else [])]
    channel = rng.choice(channels, size=n)
    effect = pd.Series({"web": 0.5, "branch": 0.0, "phone": -0.5, "partner": 1.5})
    tenure = rng.normal(0.0, 1.0, n)
    reach = rng.normal(10.0 if drifted else 0.0, 1.0, n)
    score = tenure + effect[channel].to_numpy()
    label = (score > 0) ^ (reach > 4.5)
    label ^= rng.random(n) < 0.03
    return pd.DataFrame(
        {
            "tenure": tenure.round(3),
            "reach": reach.round(3),
            "channel": channel,
            "balance": rng.gamma(2.0, 500.0, n).round(2),
            "label": label.astype(int),
        }
    )


def test_a_user_covariate_shift_with_a_new_category_is_retrained_and_healed(project, tmp_path):
    """Issue 12's loop on user data: daily CSV files; from the drift start, numeric values
    beyond the training ranges and a category never seen in training. Needs the schema's
    contract-versus-expectations split (retraining windows are checked against the contract,
    not the first schema's ranges and category sets)."""
    days, clean_days, debounce = 8, 3, 2
    train_csv = tmp_path / "train.csv"
    # Enough rows that the champion's test accuracy, and each day's, are precise to about a
    # point: the performance rule judges the drop against both figures' noise.
    _user_table(6000, seed=0, drifted=False).to_csv(train_csv, index=False)
    scoring_dir = tmp_path / "days"
    scoring_dir.mkdir()
    for i in range(days):
        day = FIRST_DAY + timedelta(days=i)
        frame = _user_table(800, seed=100 + i, drifted=i >= clean_days)
        frame.to_csv(scoring_dir / f"{day}.csv", index=False)
    data_source = TrainingDataSource(location=str(train_csv), target_column="label")
    assert project.train(data_source=data_source).success
    resources = project.resources(
        data_source=data_source, scoring_source=ScoringDataSource(location=str(scoring_dir))
    )
    no_html = {"ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}}
    rows = run_loop(
        project.instance,
        FIRST_DAY,
        days,
        resources=resources,
        log=lambda _: None,
        monitoring_config=no_html,
    )

    clean, drifted = rows[:clean_days], rows[clean_days:]
    assert all("retrained" not in r.event for r in clean), [r.event for r in clean]
    assert all(r.severity != "critical" for r in clean)
    retrained = [i for i, r in enumerate(rows) if "retrained" in r.event]
    assert retrained, [r.event for r in rows]
    first = retrained[0]
    assert clean_days <= first <= clean_days + debounce  # within debounce_days + 1 of the drift
    assert "promoted" in rows[first].event, rows[first].event
    (run,) = project.instance.get_runs(dg.RunsFilter(job_name="retraining_job"))
    assert run.status == dg.DagsterRunStatus.SUCCESS

    # The old champion on the drifted days it scored, the new one on the drifted days after.
    before = [r.accuracy for r in drifted if r.model_version == "1"]
    after = [r.accuracy for r in rows[first + 1 :]]
    assert {r.model_version for r in rows[first + 1 :]} == {"2"}
    assert sum(after) / len(after) > sum(before) / len(before) + 0.2, (before, after)
    assert project.registry().version_by_alias(CHAMPION_ALIAS).version == "2"


# The delayed story (`make demo`'s): labels of day D land as their own file on day D + 3.
LABEL_DELAY = 3
DELAYED_DAYS = 12


def _labels_resources(directory) -> dict:
    """The labels source reading the label feed's directory (MLOPS_LABELS_DATA)."""
    from mlops_assets.resources.data_source import LabelsDataSource

    return {"labels_source": LabelsDataSource(location=str(directory))}


@pytest.fixture(scope="module")
def delayed_loop(tmp_path_factory):
    from mlops_assets_tests.conftest import _open_project

    labels_dir = tmp_path_factory.mktemp("labels")
    with pytest.MonkeyPatch.context() as env:
        # A project of its own: the module's other loop keeps labels in the batches.
        for project in _open_project(tmp_path_factory.mktemp("delayed"), env):
            yield project, _delayed_rows(project, labels_dir)


def _delayed_rows(project, labels_dir):
    """The delayed story's loop, with the day's labels written to `labels_dir` 3 days late."""
    scoring = ScoringDataSource(drift_start=DRIFT_START.isoformat(), label_delay_days=LABEL_DELAY)
    training = TrainingDataSource(synthetic_rows=3000)
    resources = project.resources(
        data_source=training,
        scoring_source=scoring,
        **_labels_resources(labels_dir),
    )
    assert project.train(data_source=training).success
    rows = run_loop(
        project.instance,
        FIRST_DAY,
        DELAYED_DAYS,
        resources=resources,
        log=lambda _: None,
        labels=LabelDelivery(labels_dir, LABEL_DELAY, scoring),
    )
    return rows


def test_delayed_labels_the_estimate_drops_before_any_label_and_retraining_waits_for_them(
    delayed_loop,
):
    project, rows = delayed_loop
    by_day = {r.day: r for r in rows}
    drifted = [(DRIFT_START + timedelta(days=i)).isoformat() for i in range(2)]
    clean = [r for r in rows if r.day < DRIFT_START.isoformat()]

    # No batch carries its labels: each day's realized accuracy came 3 days later.
    for row in rows:
        landed = date.fromisoformat(row.day) + timedelta(days=LABEL_DELAY)
        assert row.labels_landed_on == landed.isoformat(), row
        assert row.accuracy is not None and row.estimate_error is not None
    assert not any(r.estimated_dropped for r in clean)
    # The built-in scenario `both` moves the applicants towards the decision boundary
    # (covariate shift) and changes the relation (concept shift). The estimate sees the first
    # on the drifted day itself, three days before any of its labels exist; the second only
    # the labels show (the known limit of CBPE): the realized accuracy is lower still.
    for day in drifted:
        assert by_day[day].estimate_trusted and by_day[day].estimated_dropped, by_day[day]
        assert by_day[day].estimate_error < -0.1, by_day[day]
    assert "estimated performance drop on " + drifted[0] in by_day[drifted[0]].event
    # The tick of the second drifted day was due on feature drift but waited for labels.
    waiting = by_day[drifted[1]].event
    assert f"waiting for labels of {drifted[0]}, {drifted[1]}" in waiting, waiting
    assert "feature drift critical" in waiting, waiting

    # The first retraining launched on the tick the second drifted day's labels landed, on
    # the labelled drifted days only, named by the realized signal those labels gave.
    launched_on = (DRIFT_START + timedelta(days=1 + LABEL_DELAY)).isoformat()
    retrained = [r.day for r in rows if "retrained" in r.event]
    assert retrained[0] == launched_on, [(r.day, r.event) for r in rows]
    assert "promoted" in by_day[launched_on].event
    first = project.instance.get_runs(dg.RunsFilter(job_name="retraining_job"))[-1]  # oldest
    assert (first.tags[WINDOW_START_TAG], first.tags[WINDOW_END_TAG]) == tuple(drifted)
    assert "realized" in first.tags[SIGNALS_TAG].split(",")

    # After the promotion the new champion scores, and both accuracies recover.
    after = [r for r in rows if r.day > launched_on]
    assert after and {r.model_version for r in after} == {"2"}
    old = [r for r in rows if r.day >= DRIFT_START.isoformat() and r.model_version == "1"]
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    assert mean([r.accuracy for r in after]) > mean([r.accuracy for r in old]) + 0.03
    # On the new model, trained on the drifted relation, the estimate tracks the truth again.
    assert mean([abs(r.estimate_error) for r in after]) < 0.05
    assert not any(r.estimated_dropped for r in after)


def test_the_loops_runs_carry_their_jobs_names_as_the_readme_says(delayed_loop):
    """In the run list each run names its job (README: daily_monitoring_job, labels_job,
    retraining_job), also when the definitions loaded with labels in the features and the
    loop delivers them on their own: never Dagster's `__ephemeral_asset_job__`."""
    project, _ = delayed_loop
    runs = project.instance.get_runs()  # newest first; the oldest is the fixture's training
    names = {run.job_name for run in runs[:-1]}
    assert names == {"daily_monitoring_job", "labels_job", "retraining_job"}
    daily = project.instance.get_runs(dg.RunsFilter(job_name="daily_monitoring_job"))
    assert len(daily) == DELAYED_DAYS
    # The daily runs score, report and estimate; the delivered labels are labels_job's.
    labelled = project.instance.get_runs(dg.RunsFilter(job_name="labels_job"))
    labels_runs = {run.run_id for run in labelled}
    for asset in ("labels", "realized_performance"):
        records = project.instance.fetch_materializations(dg.AssetKey(asset), limit=100).records
        assert records and {r.run_id for r in records} <= labels_runs, asset
