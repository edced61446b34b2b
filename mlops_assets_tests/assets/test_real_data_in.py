"""Real tables through the training graph: numeric-looking categories, ids, exclusions, a
timestamp that holds no dates, a second table under the same model name, schema versions that
learn each training window's expectations, and a retraining window named as such."""

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_iris

from mlops_assets.domain.data import write_parquet_atomic
from mlops_assets.resources.data_source import TrainingDataSource
from mlops_assets.resources.io_managers import asset_path
from mlops_assets_tests.failures import step_failure


def _cancer(seed: int = 0) -> pd.DataFrame:
    """Breast-cancer table as a clinic would export it: an application id rising with time,
    a date per row, and a census-style category coded as numbers."""
    frame = load_breast_cancer(as_frame=True).frame
    rng = np.random.default_rng(seed)
    frame.insert(0, "application_id", np.arange(50_000, 50_000 + len(frame)))
    frame["received"] = pd.date_range("2025-01-01", periods=len(frame), freq="6h")
    frame["clinic_code"] = pd.Categorical(rng.choice(["0", "1", "10"], size=len(frame)))
    return frame


def _validated(project) -> dg.AssetMaterialization:
    event = project.instance.get_latest_materialization_event(dg.AssetKey("validated_data"))
    return event.asset_materialization


def test_a_parquet_table_with_numeric_looking_categories_and_an_id_trains(project, tmp_path):
    path = tmp_path / "clinic.parquet"
    _cancer().to_parquet(path)
    source = TrainingDataSource(
        location=str(path), target_column="target", timestamp_column="received"
    )
    result = project.train(data_source=source)
    assert result.success, step_failure(result)

    model = result.output_for_node("trained_model")
    assert model.categorical_features == ("clinic_code",)
    assert "application_id" not in model.numeric_features
    metadata = _validated(project).metadata
    roles = metadata["column_roles"].value
    assert "| application_id | id | numeric | integer that rises with the row order" in roles
    assert "| clinic_code | feature | categorical |" in roles
    assert "| received | timestamp | datetime |" in roles
    assert metadata["id_columns"].value == "application_id"
    assert str(path) in metadata["source"].value

    # The MLflow run names the schema version the model was trained under.
    version = metadata["schema_version"].value
    assert version.startswith("v1-") and Path(metadata["schema_file"].value).stem == version
    run = project.registry().client().get_run(model.run_id)
    assert run.data.tags["schema_version"] == version


def test_configured_ids_and_exclusions_stay_out_of_the_features(project, tmp_path):
    path = tmp_path / "clinic.csv"
    frame = _cancer().assign(ward=lambda f: [f"w{i % 60}" for i in range(len(f))])
    frame.to_csv(path, index=False)
    source = TrainingDataSource(
        location=str(path),
        target_column="target",
        id_columns="ward",
        exclude_columns="worst radius, worst area",
    )
    result = project.train(data_source=source)
    assert result.success, step_failure(result)
    model = result.output_for_node("trained_model")
    assert not {"ward", "worst radius", "worst area"} & set(model.features)
    metadata = _validated(project).metadata
    assert metadata["excluded_columns"].value == "worst radius, worst area"
    assert "| ward | id | categorical | MLOPS_ID_COLUMNS |" in metadata["column_roles"].value


def test_an_unknown_configured_column_fails_at_raw_data_listing_the_columns(project, tmp_path):
    path = tmp_path / "iris.csv"
    load_iris(as_frame=True).frame.to_csv(path, index=False)
    source = TrainingDataSource(location=str(path), target_column="target", id_columns="row")
    result = project.train(data_source=source)
    step, message = step_failure(result)
    assert step == "raw_data"
    assert "MLOPS_ID_COLUMNS names column 'row'" in message and "petal width (cm)" in message
    assert not result.get_asset_materialization_events()


@pytest.mark.parametrize("column", ["mean radius", "ward"], ids=["numeric", "text"])
def test_a_timestamp_that_holds_no_dates_fails_at_raw_data_before_anything_is_stored(
    project, tmp_path, column
):
    path = tmp_path / "clinic.csv"
    frame = _cancer().assign(ward=lambda f: np.resize(["north", "south", "east"], len(f)))
    frame.to_csv(path, index=False)
    source = TrainingDataSource(location=str(path), target_column="target", timestamp_column=column)
    result = project.train(data_source=source)
    assert not result.success
    step, message = step_failure(result)
    assert step == "raw_data"
    assert f"MLOPS_TIMESTAMP_COLUMN names column {column!r}" in message
    assert "does not hold dates" in message and str(path) in message
    assert str(frame[column].iloc[0]) in message  # a sample value
    assert not result.get_asset_materialization_events()
    assert not project.registry().versions()


def test_another_table_under_the_same_model_name_says_how_to_start_a_new_schema(project, tmp_path):
    assert project.train(data_source=TrainingDataSource(synthetic_rows=1500)).success
    path = tmp_path / "iris.csv"
    load_iris(as_frame=True).frame.to_csv(path, index=False)
    iris = TrainingDataSource(location=str(path), target_column="target")
    result = project.train(data_source=iris)
    step, message = step_failure(result)
    assert step == "validated_data"
    assert "model name 'credit-default' already has a schema" in message
    assert "schemas/credit-default/v1-" in message
    assert "reinfer_schema: true" in message and "MLOPS_MODEL_NAME" in message

    again = project.train(
        run_config={"ops": {"validated_data": {"config": {"reinfer_schema": True}}}},
        data_source=iris,
    )
    assert _validated(project).metadata["schema_version"].value.startswith("v2-")
    del again  # the gate may refuse a model of another task; the schema is what is tested


def test_retraining_on_drifted_data_validates_and_learns_a_new_schema_version(project, tmp_path):
    frame = _cancer().drop(columns="received")
    first, later = frame.iloc[:350], frame.iloc[350:].copy()
    path = tmp_path / "clinic.parquet"
    first.to_parquet(path)
    source = TrainingDataSource(location=str(path), target_column="target")
    assert project.train(data_source=source).success
    v1 = _validated(project).metadata["schema_version"].value

    # Later rows: ids beyond the first window, a shift far past the padded ranges, a new code.
    later["mean area"] = later["mean area"] * 5 + 4000
    later["clinic_code"] = later["clinic_code"].cat.add_categories(["99"])
    later.loc[later.index[::4], "clinic_code"] = "99"
    later.to_parquet(path)
    result = project.train(data_source=source)
    assert result.success, step_failure(result)
    metadata = _validated(project).metadata
    assert metadata["quarantined_rows"].value == 0
    assert metadata["rows_outside_expectations"].value == len(later)
    assert "mean area" in metadata["outside_expectations"].value
    v2 = metadata["schema_version"].value
    assert v2.startswith("v2-") and v2 != v1
    run = project.registry().client().get_run(result.output_for_node("trained_model").run_id)
    assert run.data.tags["schema_version"] == v2

    # The same window again: same expectations, the v2 file is reused.
    assert project.train(data_source=source).success
    assert _validated(project).metadata["schema_version"].value == v2
    assert _validated(project).metadata["rows_outside_expectations"].value == 0


def test_a_retraining_window_is_named_by_its_partitions_not_the_training_file(project, tmp_path):
    path = tmp_path / "train.csv"
    frame = _cancer().drop(columns="received")
    frame.to_csv(path, index=False)
    source = TrainingDataSource(location=str(path), target_column="target")
    assert project.train(data_source=source).success

    # Two scored, labelled days; the second delivered with infinities in a third of its rows.
    start = date(2026, 3, 1)
    for i, day in enumerate((start, start + timedelta(days=1))):
        batch = frame.iloc[i * 200 : (i + 1) * 200].reset_index(drop=True)
        if i == 1:
            batch.loc[: len(batch) // 3, "mean area"] = np.inf
        write_parquet_atomic(batch, asset_path(dg.AssetKey("scoring_data"), day.isoformat()))
    from mlops_assets.definitions import defs

    result = dg.materialize(
        [defs.get_assets_def(key) for key in ("raw_data", "validated_data", "scoring_data")],
        selection=["raw_data", "validated_data"],
        resources=project.resources(data_source=source),
        instance=project.instance,
        run_config={
            "ops": {
                "raw_data": {"config": {"window_start": "2026-03-01", "window_end": "2026-03-02"}}
            }
        },
        raise_on_error=False,
    )
    step, message = step_failure(result)
    assert step == "validated_data"
    window = "labelled scoring_data partitions 2026-03-01..2026-03-02 (2 days)"
    assert f"{window}: 16.8% of rows broke the schema's contract" in message
    assert "train.csv" not in message
    raw = project.instance.get_latest_materialization_event(dg.AssetKey("raw_data"))
    assert raw.asset_materialization.metadata["source"].value == window
    logs = [
        e.user_message
        for e in project.instance.all_logs(result.run_id)
        if "rows x" in (e.user_message or "")
    ]
    assert logs == [f"read 400 rows x {frame.shape[1]} columns from {window}"]


def test_a_changed_target_or_timestamp_is_refused_and_changed_roles_re_infer():
    from mlops_assets.domain.column_settings import changed_roles, redefining_settings
    from mlops_assets.domain.schemas import infer_schema

    stored = infer_schema(_cancer(), target="target")
    same = TrainingDataSource(location="x.csv", target_column="target")
    assert (
        redefining_settings(stored, same.column_settings()) == []
        and changed_roles(stored, same.column_settings()) == []
    )
    other_target = TrainingDataSource(location="x.csv", target_column="mean radius")
    assert redefining_settings(stored, other_target.column_settings()) == [
        "its target is 'target', not MLOPS_TARGET_COLUMN='mean radius'"
    ]
    timed = TrainingDataSource(
        location="x.csv", target_column="target", timestamp_column="received"
    )
    assert redefining_settings(stored, timed.column_settings()) == [
        "its timestamp is None, not MLOPS_TIMESTAMP_COLUMN='received'"
    ]
    excluding = TrainingDataSource(
        location="x.csv", target_column="target", exclude_columns="mean radius"
    )
    assert changed_roles(stored, excluding.column_settings()) == [
        "MLOPS_EXCLUDE_COLUMNS='mean radius'"
    ]


def _score_day(project, source, days, day="2026-01-05"):
    from mlops_assets.definitions import defs
    from mlops_assets.resources.data_source import ScoringDataSource

    return defs.resolve_job_def("daily_monitoring_job").execute_in_process(
        partition_key=day,
        instance=project.instance,
        resources=project.resources(
            data_source=source, scoring_source=ScoringDataSource(location=str(days))
        ),
        run_config={
            "ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}
        },
        raise_on_error=False,
    )


@pytest.mark.parametrize("day_format", ["csv", "parquet-int64"])
def test_category_codes_delivered_as_numbers_score_as_the_models_categories(
    project, tmp_path, day_format
):
    """Trained on text codes "0", "1", "10"; the day comes as a CSV (which pandas reads as
    integers) or as a Parquet file whose column is int64, as another system exports it."""
    frame = _cancer()
    path = tmp_path / "clinic.parquet"
    frame.iloc[:450].to_parquet(path)
    source = TrainingDataSource(
        location=str(path), target_column="target", id_columns="application_id"
    )
    assert project.train(data_source=source).success
    days = tmp_path / "days"
    days.mkdir()
    day = frame.iloc[450:].drop(columns=["received"])
    if day_format == "csv":
        day.to_csv(days / "2026-01-05.csv", index=False)
    else:
        day.astype({"clinic_code": "int64"}).to_parquet(days / "2026-01-05.parquet")

    result = _score_day(project, source, days)
    assert result.success, step_failure(result)
    stored = pd.read_parquet(asset_path(dg.AssetKey("scoring_data"), "2026-01-05"))
    assert sorted(stored["clinic_code"].unique()) == ["0", "1", "10"]
    check = next(
        e for e in result.get_asset_check_evaluations() if e.check_name == "scoring_data_conforms"
    )
    assert check.passed and check.metadata["unseen_category_rows"].value == 0


def test_codes_whose_text_a_number_cannot_give_back_are_refused_naming_the_column(
    project, tmp_path
):
    frame = _cancer()
    frame["clinic_code"] = frame["clinic_code"].map({"0": "00", "1": "01", "10": "10"})
    path = tmp_path / "clinic.parquet"
    frame.iloc[:450].to_parquet(path)
    source = TrainingDataSource(location=str(path), target_column="target")
    assert project.train(data_source=source).success
    days = tmp_path / "days"
    days.mkdir()
    # A CSV keeps "01": read as the model's text, it scores.
    frame.iloc[450:].to_csv(days / "2026-01-05.csv", index=False)
    assert _score_day(project, source, days).success
    # A typed integer column has lost the leading zero: refused, never guessed.
    frame.iloc[450:].assign(clinic_code=1).to_parquet(days / "2026-01-06.parquet")
    result = _score_day(project, source, days, "2026-01-06")
    assert not result.success
    step, message = step_failure(result)
    assert step == "scoring_data"
    assert "clinic_code" in message and "expected text categories" in message
