"""drift_report's performance figures on real data whose labels pandas reads differently in
training and in a day's batch (1.0 against 1, or a float column because one label is missing).
Real MLflow, real Dagster instance, scikit-learn's breast cancer table."""

from datetime import date

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.domain.evaluation import significant
from mlops_assets.domain.verdicts import DriftVerdict
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource

DAY = date(2026, 1, 5)


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


def _train_and_score(project, tmp_path, training: pd.DataFrame, day: pd.DataFrame):
    train_csv = tmp_path / "train.csv"
    training.to_csv(train_csv, index=False)
    days = tmp_path / "days"
    days.mkdir()
    day.to_csv(days / f"{DAY}.csv", index=False)
    data_source = TrainingDataSource(location=str(train_csv), target_column="target")
    assert project.train(data_source=data_source).success
    resources = project.resources(
        data_source=data_source, scoring_source=ScoringDataSource(location=str(days))
    )
    from mlops_assets.definitions import defs

    result = defs.resolve_job_def("daily_monitoring_job").execute_in_process(
        partition_key=DAY.isoformat(),
        instance=project.instance,
        resources=resources,
        run_config={
            "ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}
        },
    )
    report = next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("drift_report")
    )
    scored = next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("batch_predictions")
    )
    predictions = pd.read_parquet(scored["path"].value)
    return report, predictions


def _true_accuracy(predictions: pd.DataFrame) -> float:
    labelled = predictions.dropna(subset=["target"])
    return float(np.mean(labelled["target"].astype(float) == labelled["prediction"].astype(float)))


def test_float_training_labels_and_int_batch_labels_give_the_real_accuracy(
    project, tmp_path, cancer
):
    training = cancer.iloc[:450].assign(target=lambda f: f["target"].astype(float))
    day = cancer.iloc[450:].astype({"target": "int64"})
    report, predictions = _train_and_score(project, tmp_path, training, day)
    accuracy = report["accuracy"].value
    assert accuracy == significant(_true_accuracy(predictions))  # as the UI shows it
    assert accuracy > 0.85  # the old string comparison ("1" vs "1.0") gave 0.0
    assert DriftVerdict.from_metadata(DAY, report).performance.day_value == accuracy
    assert report["accuracy_ci_low"].value < accuracy < report["accuracy_ci_high"].value
    assert report["performance_dropped"].value is False
    assert report["labelled_rows"].value == len(day)


def test_a_day_with_a_missing_label_is_judged_on_its_labelled_rows(project, tmp_path, cancer):
    from mlops_assets.definitions import defs

    # A retraining that failed (no scored days in its window) shows on the next day's report.
    failed = defs.resolve_job_def("retraining_job").execute_in_process(
        run_config={"ops": {"raw_data": {"config": {"window_end": "2025-12-01"}}}},
        instance=project.instance,
        resources=project.resources(),
        raise_on_error=False,
    )
    assert not failed.success
    training = cancer.iloc[:450]  # int labels: the model predicts 0 / 1
    day = cancer.iloc[450:].copy()
    day["target"] = day["target"].astype(float)
    day.iloc[3, day.columns.get_loc("target")] = np.nan  # one unlabelled row: a float column
    report, predictions = _train_and_score(project, tmp_path, training, day)
    assert report["labelled_rows"].value == len(day) - 1
    assert report["accuracy"].value == significant(_true_accuracy(predictions))
    assert report["accuracy"].value > 0.85  # the old "1.0" vs "1" comparison gave 0.0
    assert report["performance_dropped"].value is False
    assert report["last_retraining_failed"].value is True
    assert f"run {failed.run_id} failed" in report["last_retraining"].value


def test_predictions_keep_the_schemas_id_columns(project, tmp_path, cancer):
    from dataclasses import replace

    from mlops_assets.definitions import defs
    from mlops_assets.domain.schemas import infer_schema

    # Ids that rise with time, as a real table's do; the schema (given by the user here)
    # gives the column the role "id": never a feature, kept with every prediction.
    table = cancer.assign(customer_id=np.arange(10_000, 10_000 + len(cancer)))
    training, day = table.iloc[:450], table.iloc[450:]
    inferred = infer_schema(training, target="target")
    schema = replace(
        inferred,
        columns=tuple(
            replace(c, role="id", min_value=None, max_value=None) if c.name == "customer_id" else c
            for c in inferred.columns
        ),
    )
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(schema.to_json())
    train_csv = tmp_path / "train.csv"
    training.to_csv(train_csv, index=False)
    days = tmp_path / "days"
    days.mkdir()
    day.to_csv(days / f"{DAY}.csv", index=False)
    data_source = TrainingDataSource(location=str(train_csv), target_column="target")
    config = {"ops": {"validated_data": {"config": {"schema_path": str(schema_file)}}}}
    assert project.train(run_config=config, data_source=data_source).success
    result = defs.resolve_job_def("daily_monitoring_job").execute_in_process(
        partition_key=DAY.isoformat(),
        instance=project.instance,
        resources=project.resources(
            data_source=data_source, scoring_source=ScoringDataSource(location=str(days))
        ),
        run_config={
            "ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}
        },
    )
    scored = next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("batch_predictions")
    )
    predictions = pd.read_parquet(scored["path"].value)
    assert predictions["customer_id"].tolist() == day["customer_id"].tolist()
