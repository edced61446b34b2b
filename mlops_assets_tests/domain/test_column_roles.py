"""Column roles, timestamp refusal, duplicates and contract-versus-expectations on real tables
(scikit-learn's bundled datasets) and frames built to reproduce what real sources do."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine

from mlops_assets.domain.schemas import (
    ID_REASON,
    MAX_CATEGORIES,
    DatasetSchema,
    DataValidationError,
    check_column_settings,
    infer_schema,
    learn_expectations,
    parse_column_list,
    validate,
)

SOURCE = "/data/patients.parquet"


def _cancer() -> pd.DataFrame:
    return load_breast_cancer(as_frame=True).frame


def test_bundled_tables_infer_their_tasks_and_numeric_features():
    cancer = infer_schema(_cancer(), target="target")
    assert cancer.task == "binary" and len(cancer.numeric_features) == 30
    wine = infer_schema(load_wine(as_frame=True).frame, target="target")
    assert wine.task == "multiclass" and wine.classes == ("0", "1", "2")
    iris = infer_schema(load_iris(as_frame=True).frame, target="target")
    assert iris.task == "multiclass" and len(iris.feature_columns) == 4
    diabetes = infer_schema(load_diabetes(as_frame=True).frame, target="target")
    assert diabetes.task == "regression" and len(diabetes.feature_columns) == 10


def test_numeric_looking_categories_in_a_parquet_category_column_are_categories(tmp_path):
    # Census extracts code categories as '0', '1', '10': stored as a Parquet category column
    # they crashed inference with an IndexError naming no column.
    frame = _cancer()
    rng = np.random.default_rng(0)
    codes = rng.choice(["0", "1", "10", "11"], size=len(frame))
    frame["education_code"] = pd.Categorical(codes)
    frame["region_code"] = pd.Series(rng.choice(["1", "2", "3"], size=len(frame)), dtype="str")
    frame.to_parquet(tmp_path / "census.parquet")
    read = pd.read_parquet(tmp_path / "census.parquet")
    assert isinstance(read["education_code"].dtype, pd.CategoricalDtype)

    schema = infer_schema(read, target="target")
    education = schema.column("education_code")
    assert (education.role, education.kind) == ("feature", "categorical")
    assert education.categories == ("0", "1", "10", "11")
    assert schema.column("region_code").kind == "categorical"
    result = validate(read, schema, SOURCE)
    assert result.quarantined.empty and result.rows_outside_expectations == 0


def test_an_integer_id_rising_with_time_is_an_id_with_its_reason():
    frame = _cancer()
    frame.insert(0, "application_id", np.arange(100_000, 100_000 + len(frame)))
    frame["customer_ref"] = [f"C-{i * 7919 % 100_003:06d}" for i in range(len(frame))]
    schema = infer_schema(frame, target="target")
    assert schema.id_columns == ["application_id", "customer_ref"]
    assert "application_id" not in schema.feature_columns
    assert schema.column("application_id").reason == (
        f"integer that rises with the row order, {ID_REASON}"
    )
    table = schema.roles_table()
    assert list(table.columns) == ["column", "role", "kind", "reason"]
    row = table.set_index("column").loc["customer_ref"]
    assert (row["role"], row["kind"]) == ("id", "text")
    assert "set MLOPS_ID_COLUMNS to confirm" in row["reason"]


def test_constant_dates_and_free_text_are_ignored_with_reasons():
    frame = _cancer()
    rng = np.random.default_rng(1)
    words = np.array(["pain", "lump", "follow up", "referred", "no history", "scan"])
    frame["clinic"] = "north"
    frame["visit_date"] = pd.date_range("2026-01-01", periods=len(frame), freq="h")
    frame["notes"] = [" ".join(rng.choice(words, size=6)) for _ in range(len(frame))]
    schema = infer_schema(frame, target="target")
    roles = schema.roles_table().set_index("column")
    assert roles.loc["clinic", "role"] == "ignored" and "constant" in roles.loc["clinic", "reason"]
    assert roles.loc["visit_date", "role"] == "ignored"
    assert "MLOPS_TIMESTAMP_COLUMN" in roles.loc["visit_date", "reason"]
    assert roles.loc["notes", "role"] == "ignored"
    assert roles.loc["notes", "reason"].startswith("free text")
    # The same date column named as the timestamp is the timestamp.
    timed = infer_schema(frame, target="target", timestamp_column="visit_date")
    assert timed.column("visit_date").role == "timestamp"


def test_high_cardinality_categories_are_capped_with_an_other_bucket():
    frame = _cancer()
    rng = np.random.default_rng(2)
    # 120 postcodes, a few frequent: more than the encoder distinguishes.
    weights = 1 / np.arange(1, 121)
    codes = rng.choice(
        [f"P{i:03d}" for i in range(120)], size=len(frame), p=weights / weights.sum()
    )
    frame["postcode"] = codes
    spec = infer_schema(frame, target="target").column("postcode")
    assert spec.role == "feature" and spec.other_categories
    assert len(spec.categories) == MAX_CATEGORIES and "P000" in spec.categories
    assert "most frequent" in spec.reason
    # A rare postcode (in "other") is not reported as outside the expectations.
    schema = infer_schema(frame, target="target")
    assert validate(frame, schema, SOURCE).rows_outside_expectations == 0


def test_configured_ids_and_exclusions_take_their_roles():
    frame = _cancer().assign(patient=lambda f: [f"p{i % 400}" for i in range(len(f))])
    schema = infer_schema(
        frame, target="target", id_columns=("patient",), exclude_columns=("worst radius",)
    )
    assert schema.id_columns == ["patient"] and schema.excluded_columns == ["worst radius"]
    assert "worst radius" not in schema.feature_columns
    assert schema.column("patient").reason == "MLOPS_ID_COLUMNS"
    valid = validate(frame, schema, SOURCE).valid
    assert "worst radius" not in valid.columns and "patient" in valid.columns
    assert parse_column_list(" a, b,,a ,c") == ("a", "b", "c")


def test_an_unknown_configured_column_fails_naming_it_and_the_columns_that_exist():
    frame = load_iris(as_frame=True).frame
    with pytest.raises(DataValidationError) as error:
        infer_schema(frame, target="target", exclude_columns=("petal width",))
    message = str(error.value)
    assert "MLOPS_EXCLUDE_COLUMNS names column 'petal width'" in message
    assert "petal width (cm)" in message and "sepal length (cm)" in message
    with pytest.raises(DataValidationError, match="MLOPS_ID_COLUMNS names 'target'"):
        check_column_settings(frame, SOURCE, target="target", id_columns=["target"])


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("mean radius", None),  # a numeric feature given as the timestamp
        ("ward", ["north", "south", "east"]),  # a text column
        ("visit_no", np.arange(569) * 86_400),  # integers pandas would read as nanoseconds
        ("code", ["2026", "2027", "12", "7"]),  # number-like text
    ],
)
def test_a_timestamp_that_holds_no_dates_is_refused_naming_variable_column_and_samples(
    column, values
):
    frame = _cancer()
    if values is not None:
        frame[column] = np.resize(np.asarray(values), len(frame))
    with pytest.raises(DataValidationError) as error:
        check_column_settings(frame, SOURCE, target="target", timestamp_column=column)
    message = str(error.value)
    assert f"MLOPS_TIMESTAMP_COLUMN names column {column!r}" in message
    assert "does not hold dates" in message and "sample values" in message
    assert SOURCE in message


def test_datetime_and_iso_text_timestamps_pass():
    frame = _cancer()
    frame["seen"] = pd.date_range("2026-01-01", periods=len(frame), freq="D")
    frame["seen_text"] = frame["seen"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    frame.loc[3, "seen_text"] = None
    for column in ("seen", "seen_text"):
        check_column_settings(frame, SOURCE, target="target", timestamp_column=column)


def _passengers(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "passenger_id": np.arange(1, n + 1),
            "pclass": rng.choice([1, 2, 3], size=n).astype(float),
            "sex": rng.choice(["male", "female"], size=n),
            "embarked": rng.choice(["S", "C", "Q"], size=n),
        }
    )
    frame["survived"] = (frame["sex"] == "female").astype(int)
    return frame


def test_duplicates_are_quarantined_only_when_ids_repeat_too():
    frame = _passengers()
    schema = infer_schema(frame, target="survived", id_columns=("passenger_id",))
    # Few features: many distinct passengers share all of them. None of them is invalid.
    alike = validate(frame, schema, SOURCE)
    assert alike.quarantined.empty and alike.duplicate_rows > len(frame) // 2
    # A row delivered twice (same id) is quarantined, naming the id.
    twice = pd.concat([frame, frame.iloc[[7, 8]]], ignore_index=True)
    result = validate(twice, schema, SOURCE)
    assert sorted(result.quarantined.index) == [len(frame), len(frame) + 1]
    assert set(result.failure_cases["check"]) == {"duplicate_row (same ids and values)"}
    assert result.failure_cases["value"].tolist() == ["passenger_id=8", "passenger_id=9"]


def test_without_ids_exact_duplicates_are_reported_not_quarantined():
    frame = _passengers().drop(columns="passenger_id")
    schema = infer_schema(frame, target="survived")
    assert schema.id_columns == []
    result = validate(pd.concat([frame, frame.head(5)], ignore_index=True), schema, SOURCE)
    assert result.quarantined.empty
    assert result.duplicate_rows == frame.duplicated().sum() + 5


def test_a_retraining_window_beyond_the_ranges_with_a_new_category_validates_cleanly():
    rng = np.random.default_rng(4)
    cancer = _cancer()
    cancer.insert(0, "record_id", np.arange(len(cancer)))
    cancer["site"] = rng.choice(["A", "B"], size=len(cancer))
    first = cancer.iloc[:300]
    schema = infer_schema(first, target="target")
    assert schema.id_columns == ["record_id"]

    # Later days: ids beyond the first window, a covariate shift well past the padded range,
    # and a site that first appears after the drift.
    window = cancer.iloc[300:].copy()
    window["mean area"] = window["mean area"] * 4 + 5000
    window.loc[window.index[::3], "site"] = "C"
    result = validate(window, schema, SOURCE)
    assert result.quarantined.empty and len(result.valid) == len(window)
    outside = result.outside_expectations.set_index("column")["rows"]
    assert outside["mean area"] == len(window)
    assert outside["site"] == len(window[::3])
    assert "record_id" not in outside.index

    learned = learn_expectations(schema, result.valid)
    assert learned.roles_table().equals(schema.roles_table())
    assert learned.column("mean area").max_value > window["mean area"].max()
    assert "C" in learned.column("site").categories
    assert learned.fingerprint() != schema.fingerprint()
    assert validate(window, learned, SOURCE).rows_outside_expectations == 0
    # Learning from the same window again gives the same schema (the file is reused).
    assert learn_expectations(learned, result.valid).fingerprint() == learned.fingerprint()


def test_a_format_1_schema_file_is_still_read():
    schema = infer_schema(_cancer(), target="target")
    old = json.loads(schema.to_json())
    old["format"] = 1
    for column in old["columns"]:
        for key in ("reason", "null_share", "other_categories"):
            column.pop(key)
    read = DatasetSchema.from_json(json.dumps(old))
    assert read.format == 2 and read.feature_columns == schema.feature_columns
    assert read.column("mean area").min_value == schema.column("mean area").min_value
    with pytest.raises(ValueError, match="unsupported schema format 3"):
        DatasetSchema.from_json(json.dumps({**old, "format": 3}))


def test_numeric_looking_codes_with_an_unknown_marker_are_a_category():
    # Census extracts code answers as '0'..'16' and write '?' for unknown, in a text column.
    frame = _cancer()
    codes = np.array([str(i) for i in range(17)], dtype=object)
    values = codes[np.arange(len(frame)) % 17]
    values[::50] = "?"
    frame["occupation"] = pd.Series(values, dtype="str")
    spec = infer_schema(frame, target="target").column("occupation")
    assert (spec.role, spec.kind) == ("feature", "categorical")
    assert "?" in spec.categories and "10" in spec.categories


def test_a_unique_integer_measurement_stays_a_feature():
    # Whole-unit incomes on a small table are unique but spread over a wide range: not a row id.
    frame = _cancer()
    rng = np.random.default_rng(3)
    frame["income"] = rng.choice(np.arange(10_000, 200_000), size=len(frame), replace=False)
    spec = infer_schema(frame, target="target").column("income")
    assert (spec.role, spec.kind) == ("feature", "numeric")
    # A shuffled but dense row number is still an id.
    frame["row_number"] = rng.permutation(len(frame)) + 1
    assert infer_schema(frame, target="target").column("row_number").role == "id"


def test_scoring_reports_values_beyond_the_training_ranges_without_failing():
    from mlops_assets.domain.schemas import check_scoring_batch, learn_expectations

    frame = _cancer()
    schema = learn_expectations(infer_schema(frame, target="target"), frame)
    batch = frame.drop(columns="target").head(100).copy()
    # A covariate shift far beyond anything training saw, on 30 rows of one feature.
    batch.loc[:29, "mean radius"] = frame["mean radius"].max() * 10
    report = check_scoring_batch(batch, schema, "2026-03-01.csv")
    assert report.rows_outside_expectations == 30
    row = report.outside_expectations.set_index("column").loc["mean radius"]
    assert row["rows"] == 30 and row["expectation"].startswith("in_range")
