"""Labels delivered late as their own files: the sensor starts labels_job, realized
performance is judged on them, a correction re-runs, a bad delivery fails and keeps the stored
labels. Real MLflow store, real Dagster instance, scikit-learn's breast cancer table."""

import os
from datetime import date

import dagster as dg
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from mlops_assets.contracts import (
    LABELS_JOB,
    REALIZED_CHECK,
)
from mlops_assets.domain.verdicts import RealizedVerdict
from mlops_assets.resources.data_source import (
    LabelsDataSource,
    ScoringDataSource,
    TrainingDataSource,
)
from mlops_assets.resources.io_managers import asset_path
from mlops_assets_tests.monitoring_runs import check_partition_statuses

DAY = date(2026, 1, 5)


def _cancer() -> pd.DataFrame:
    frame = load_breast_cancer(as_frame=True).frame
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    # An application id that rises with time, as an operational system numbers rows.
    frame.insert(0, "application_id", range(70_000, 70_000 + len(frame)))
    return frame


@pytest.fixture
def scored(project, tmp_path):
    from mlops_assets.definitions import defs

    frame = _cancer()
    training, day = frame.iloc[:400], frame.iloc[400:]
    train_csv = tmp_path / "train.csv"
    training.to_csv(train_csv, index=False)
    data_source = TrainingDataSource(
        location=str(train_csv), target_column="target", id_columns="application_id"
    )
    assert project.train(data_source=data_source).success
    days = tmp_path / "days"
    days.mkdir()
    # The scoring file is Parquet with ids as strings and no labels yet.
    unlabelled = day.drop(columns="target").astype({"application_id": str})
    unlabelled.to_parquet(days / f"{DAY}.parquet")
    label_dir = tmp_path / "labels"
    label_dir.mkdir()
    scoring = {"data_source": data_source, "scoring_source": ScoringDataSource(location=str(days))}
    # This process loaded definitions without MLOPS_LABELS_DATA, so the daily job also stores
    # the (absent) labels of the features; the delayed source is used from here on.
    resources = project.resources(
        **scoring, labels_source=LabelsDataSource(location=str(label_dir))
    )
    result = defs.resolve_job_def("daily_monitoring_job").execute_in_process(
        partition_key=DAY.isoformat(),
        instance=project.instance,
        resources=project.resources(**scoring),
        run_config={
            "ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}
        },
    )
    assert result.success
    return project, resources, day, label_dir


def _tick(project, resources, cursor):
    from mlops_assets.definitions import defs

    # Evaluated as the daemon evaluates it: the sensor reads its model's labels source through
    # its resource key.
    sensor = defs.resolve_sensor_def("labels_arrival_sensor")
    context = dg.build_sensor_context(
        instance=project.instance,
        cursor=cursor,
        resources=resources,
        repository_def=defs.get_repository_def(),
    )
    data = sensor.evaluate_tick(context)
    return dg.SkipReason(data.skip_message) if data.skip_message else data


def _run_labels_job(project, resources, partition):
    from mlops_assets.definitions import defs

    return defs.resolve_job_def(LABELS_JOB).execute_in_process(
        partition_key=partition,
        instance=project.instance,
        resources=resources,
        raise_on_error=False,
    )


def _realized(result) -> dict:
    return next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("realized_performance")
    )


def _failure(result) -> str:
    event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    return event.step_failure_data.error.message


def test_late_labels_partial_then_corrected_are_judged_and_unchanged_files_never_rerun(scored):
    project, resources, day, label_dir = scored
    assert isinstance(_tick(project, resources, None), dg.SkipReason)

    # A partial delivery, ids as ints in a CSV against the string ids of the Parquet scoring file.
    labels_csv = label_dir / f"{DAY}.csv"
    day[["application_id", "target"]].iloc[:100].to_csv(labels_csv, index=False)
    tick = _tick(project, resources, None)
    (request,) = tick.run_requests
    assert request.partition_key == DAY.isoformat()
    result = _run_labels_job(project, resources, request.partition_key)
    assert result.success, _failure(result)
    realized = _realized(result)
    verdict = RealizedVerdict.from_metadata(DAY, realized)
    assert (verdict.predictions, verdict.unlabelled_predictions) == (len(day), len(day) - 100)
    assert verdict.performance.n == 100
    assert realized["accuracy_ci_low"].value <= realized["accuracy"].value
    assert realized["roc_auc"].value > 0.8  # the score column gives the binary probabilities

    # Unchanged file: no new run.
    assert isinstance(_tick(project, resources, tick.cursor), dg.SkipReason)

    # The corrected, complete delivery re-runs and is judged on every row.
    day[["application_id", "target"]].to_csv(labels_csv, index=False)
    os.utime(labels_csv, ns=(1, 2_000_000_000_000_000_000))
    again = _tick(project, resources, tick.cursor)
    (request2,) = again.run_requests
    assert request2.run_key != request.run_key
    result = _run_labels_job(project, resources, request2.partition_key)
    verdict = RealizedVerdict.from_metadata(DAY, _realized(result))
    assert (verdict.performance.n, verdict.unlabelled_predictions) == (len(day), 0)
    # The check's Partitions view colours the day from labels_job's evaluation, which targets
    # the newest realized_performance (not missing, as an untargeted evaluation shows).
    check = dg.AssetCheckKey(dg.AssetKey("realized_performance"), REALIZED_CHECK)
    expected = "FAILED" if verdict.performance.dropped else "SUCCEEDED"
    assert check_partition_statuses(project.instance, check)[DAY.isoformat()] == expected


@pytest.mark.parametrize(
    ("delivery", "message"),
    [
        (lambda d: d[["target"]], "no id column `application_id`"),
        (lambda d: d[["application_id", "target"]].assign(application_id=-1), "none of its"),
        (
            lambda d: d[["application_id", "target"]].assign(target=["benign"] * len(d)),
            "target `target` at row 0 is 'benign'",
        ),
    ],
    ids=["missing-id-column", "unknown-ids-only", "string-target"],
)
def test_a_bad_delivery_fails_naming_it_and_keeps_the_stored_labels(scored, delivery, message):
    project, resources, day, label_dir = scored
    labels_csv = label_dir / f"{DAY}.csv"
    day[["application_id", "target"]].iloc[:50].to_csv(labels_csv, index=False)
    assert _run_labels_job(project, resources, DAY.isoformat()).success
    stored = asset_path(dg.AssetKey("labels"), DAY.isoformat())
    before = stored.read_bytes()

    delivery(day).to_csv(labels_csv, index=False)
    result = _run_labels_job(project, resources, DAY.isoformat())
    assert not result.success
    error = _failure(result)
    assert str(labels_csv) in error and message in error
    assert stored.read_bytes() == before


def test_retraining_window_with_delayed_labels_takes_only_the_labelled_rows(scored):
    project, resources, day, label_dir = scored
    day[["application_id", "target"]].iloc[:120].to_csv(label_dir / f"{DAY}.csv", index=False)
    assert _run_labels_job(project, resources, DAY.isoformat()).success
    result = project.train(
        run_config={"ops": {"raw_data": {"config": {"window_end": DAY.isoformat()}}}},
        data_source=resources["data_source"],
        labels_source=resources["labels_source"],
    )
    assert result.success, _failure(result)
    window = result.output_for_node("raw_data")
    assert len(window.frame) == 120
    expected = day.iloc[:120].set_index("application_id")["target"].astype(float)
    got = window.frame.set_index(window.frame["application_id"].astype(int))["target"]
    assert got.astype(float).to_numpy().tolist() == expected.loc[got.index].tolist()
    assert DAY.isoformat() in window.source
    # The asset page shows where the window's columns come from: the target from labels (which
    # cannot be an edge of the asset graph: it would close a cycle), the rest from scoring_data.
    (event,) = [
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("raw_data")
    ]
    lineage = event.metadata["dagster/column_lineage"].value.deps_by_column
    assert [(d.asset_key.to_user_string(), d.column_name) for d in lineage["target"]] == [
        ("labels", "target")
    ]
    assert [d.asset_key.to_user_string() for d in lineage["application_id"]] == ["scoring_data"]


def test_a_delivery_for_an_unscored_day_waits_with_a_reason(scored):
    project, resources, day, label_dir = scored
    day[["application_id", "target"]].to_csv(label_dir / "2026-01-09.csv", index=False)
    tick = _tick(project, resources, None)
    assert isinstance(tick, dg.SkipReason)
    assert "2026-01-09" in tick.skip_message and "waiting for scoring" in tick.skip_message


def test_labels_from_a_sql_table_arrive_late_then_corrected_and_are_judged(scored, tmp_path):
    """MLOPS_LABELS_DATA as a SQLAlchemy URL: a table with the scored day as a DATE column (the
    type SQLite stores as text), filled partially, then corrected; the sensor sees each change
    by the day's rows, and a day with no rows yet is "not delivered", not an error."""
    import sqlalchemy as sa

    project, resources, day, _ = scored
    url = f"sqlite:///{tmp_path / 'outcomes.db'}"
    engine = sa.create_engine(url)
    table = day[["application_id", "target"]].assign(scored_on=DAY)
    table.iloc[:0].to_sql("outcomes", engine, index=False)
    resources = {
        **resources,
        "labels_source": LabelsDataSource(location=url, table="outcomes", date_column="scored_on"),
    }
    try:
        assert isinstance(_tick(project, resources, None), dg.SkipReason)
        table.iloc[:150].to_sql("outcomes", engine, index=False, if_exists="append")
        tick = _tick(project, resources, None)
        (request,) = tick.run_requests
        result = _run_labels_job(project, resources, request.partition_key)
        assert result.success, _failure(result)
        verdict = RealizedVerdict.from_metadata(DAY, _realized(result))
        assert (verdict.performance.n, verdict.unlabelled_predictions) == (150, len(day) - 150)

        assert isinstance(_tick(project, resources, tick.cursor), dg.SkipReason)
        # The rest lands, and one earlier outcome is corrected.
        table.iloc[150:].to_sql("outcomes", engine, index=False, if_exists="append")
        first = int(day["application_id"].iloc[0])
        with engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE outcomes SET target = 1 - target WHERE application_id = :id"),
                {"id": first},
            )
        again = _tick(project, resources, tick.cursor)
        (request2,) = again.run_requests
        assert request2.run_key != request.run_key
        result = _run_labels_job(project, resources, request2.partition_key)
        verdict = RealizedVerdict.from_metadata(DAY, _realized(result))
        assert (verdict.performance.n, verdict.unlabelled_predictions) == (len(day), 0)
        stored = pd.read_parquet(asset_path(dg.AssetKey("labels"), DAY.isoformat()))
        corrected = stored.loc[stored["application_id"].astype(int) == first, "target"]
        assert corrected.astype(int).tolist() == [1 - int(day["target"].iloc[0])]
    finally:
        engine.dispose()
