from datetime import date

import numpy as np
import pandas as pd
import pytest

from mlops_assets.domain.schemas import (
    DatasetSchema,
    DataValidationError,
    check_scoring_frame,
    compare_schemas,
    infer_schema,
    infer_task,
    label_strings,
    validate,
)
from mlops_assets.domain.synthetic import generate_daily_batch, generate_training_data

SOURCE = "/data/train.csv"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate_training_data(n_rows=2000, seed=1)


@pytest.fixture(scope="module")
def schema(frame) -> DatasetSchema:
    return infer_schema(frame, target="default")


def test_inferred_schema_knows_roles_kinds_ranges_and_categories(schema):
    assert schema.task == "binary" and schema.classes == ("0", "1")
    assert len(schema.numeric_features) == 10 and len(schema.categorical_features) == 5
    # A date column is never a feature (every new day would be an unseen category).
    assert schema.column("application_date").role == "ignored"
    income = schema.column("income")
    assert income.min_value < 0 < 10_000 < income.max_value
    assert 0.05 < income.max_null_fraction < 0.2
    assert schema.column("home_ownership").categories == ("mortgage", "own", "rent")


def test_schema_round_trips_through_json_with_a_stable_fingerprint(schema, frame, tmp_path):
    again = DatasetSchema.from_json(schema.to_json())
    assert again == schema and again.fingerprint() == schema.fingerprint()
    frame.to_csv(tmp_path / "t.csv", index=False)
    from_csv = infer_schema(pd.read_csv(tmp_path / "t.csv"), target="default")
    assert from_csv.feature_columns == schema.feature_columns
    assert str(compare_schemas(schema, from_csv)) == "same features"


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0, 1, 1, 0], "binary"),
        (["yes", "no", "no"], "binary"),
        (["a", "b", "c", "a"], "multiclass"),
        ([1.5, 2.25, 3.0], "regression"),
        (list(range(50)), "regression"),
        ([0.0, 1.0, np.nan, 2.0], "multiclass"),
    ],
)
def test_infer_task(values, task):
    assert infer_task(pd.Series(values)) == task


def test_labels_compare_as_strings_whatever_the_dtype():
    assert label_strings(pd.Series([1.0, np.nan, 0.0])).tolist()[::2] == ["1", "0"]
    assert label_strings(pd.Series(["a", None])).isna().tolist() == [False, True]


def test_clean_data_validates_with_numeric_columns_as_float(frame, schema):
    result = validate(frame, schema, source=SOURCE)
    assert len(result.valid) == len(frame) and result.quarantined.empty
    assert result.valid["num_open_accounts"].dtype == np.float64


def _failure(frame, schema) -> DataValidationError:
    with pytest.raises(DataValidationError) as error:
        validate(frame, schema, source=SOURCE)
    return error.value


def test_text_in_a_numeric_column_fails_with_the_rows_and_values(frame, schema):
    bad = frame.assign(income=frame["income"].astype(object))
    bad.loc[5:7, "income"] = "unknown"
    error = _failure(bad, schema)
    assert SOURCE in str(error) and "'income'" in str(error) and "row 5" in str(error)
    cases = error.failure_cases
    assert list(cases.columns) == ["source", "column", "row", "value", "check"]
    assert cases["row"].tolist() == [5, 6, 7] and set(cases["value"]) == {"unknown"}


def test_missing_target_and_all_missing_column_fail_naming_the_column(frame, schema):
    assert "'default' is missing" in str(_failure(frame.drop(columns="default"), schema))
    error = _failure(frame.assign(credit_score=np.nan), schema)
    assert "'credit_score'" in str(error) and "null share 1.00" in str(error)


def test_rows_breaking_the_contract_are_quarantined_and_expectations_only_reported(frame, schema):
    bad = frame.copy()
    bad.loc[3, "loan_amount"] = np.inf
    bad.loc[4, "home_ownership"] = "castle"
    bad.loc[5, "default"] = np.nan
    bad.loc[6, "income"] = 1e9
    bad = pd.concat([bad, bad.iloc[[10]]], ignore_index=True)
    result = validate(bad, schema, source=SOURCE)
    # The repeated row has the same application_id: the same record delivered twice.
    assert sorted(result.quarantined.index) == [3, 5, len(frame)]
    assert "finite" in result.quarantined.loc[3, "quarantine_reason"]
    assert "not_nullable" in result.quarantined.loc[5, "quarantine_reason"]
    assert "duplicate_row" in result.quarantined.loc[len(frame), "quarantine_reason"]
    assert len(result.valid) == len(bad) - 3
    assert result.quarantined_share == pytest.approx(3 / len(bad))
    # An unknown category and a value beyond the range are expectations: counted, kept.
    outside = result.outside_expectations.set_index("column")
    assert outside.loc["home_ownership", "rows"] == 1
    assert outside.loc["income", "rows"] == 1
    assert result.rows_outside_expectations == 2


def test_too_many_bad_rows_fail_above_the_tolerated_share(frame, schema):
    bad = frame.copy()
    bad.loc[: len(frame) // 10, "loan_amount"] = np.inf
    with pytest.raises(DataValidationError, match=r"'loan_amount'.*finite"):
        validate(bad, schema, source=SOURCE, tolerated_quarantine_share=0.05)
    assert validate(bad, schema, source=SOURCE, tolerated_quarantine_share=0.2).valid.shape[0]


def test_a_single_class_target_is_rejected(frame):
    with pytest.raises(DataValidationError, match="single class"):
        infer_schema(frame.assign(default=1), target="default")


def test_inference_refuses_unusable_columns(frame):
    with pytest.raises(DataValidationError, match=r"'age'.*all values missing"):
        infer_schema(frame.assign(age=np.nan), target="default")
    mostly_numbers = frame.assign(income=frame["income"].astype(object))
    mostly_numbers.loc[2, "income"] = "n/a"
    with pytest.raises(DataValidationError, match=r"'income'.*text values"):
        infer_schema(mostly_numbers, target="default")
    with pytest.raises(DataValidationError, match="'churned' is missing"):
        infer_schema(frame, target="churned")


def test_identifier_columns_are_not_features(frame):
    ids = frame.assign(customer_id=[f"c{i:06d}" for i in range(len(frame))])
    spec = infer_schema(ids, target="default").column("customer_id")
    assert (spec.role, spec.reason) == (
        "id",
        "text, unique per row: treated as an id; set MLOPS_ID_COLUMNS to confirm",
    )


def test_schema_diff_names_missing_extra_and_retyped_features(schema, frame):
    other = infer_schema(
        frame.drop(columns="age").assign(
            region=np.arange(2000) % 7.0, channel=["web", "app"] * 1000
        ),
        target="default",
    )
    diff = compare_schemas(schema, other)
    assert diff.missing == ("age",) and diff.extra == ("channel",)
    assert diff.retyped == ("region",) and not diff.compatible
    assert "missing: age" in str(diff)
    assert compare_schemas(schema, infer_schema(frame.assign(channel="web"), "default")).compatible


def test_scoring_frames_tolerate_extra_columns_and_unseen_categories(schema):
    batch = generate_daily_batch(date(2026, 2, 1)).assign(note="x")
    batch.loc[0, "purpose"] = "yacht"
    assert check_scoring_frame(batch, schema, "day.parquet") == ["note"]
    with pytest.raises(DataValidationError, match=r"day.parquet.*'utilization' is missing"):
        check_scoring_frame(batch.drop(columns="utilization"), schema, "day.parquet")
    with pytest.raises(DataValidationError, match="expected numeric"):
        check_scoring_frame(batch.assign(age=batch["age"].astype(str)), schema, "day.parquet")


def test_scoring_batch_rules_name_rows_and_report_what_is_tolerated(schema):
    from mlops_assets.domain.schemas import check_scoring_batch

    batch = generate_daily_batch(date(2026, 2, 1), n_rows=200).assign(note="x")
    batch.loc[[4, 9], "purpose"] = "yacht"
    report = check_scoring_batch(batch, schema, "day.csv")
    assert report.extra_columns == ("note",)
    assert report.unseen_categories.to_dict("records") == [
        {"column": "purpose", "value": "yacht", "rows": 2}
    ]

    broken = batch.copy()
    broken["income"] = broken["income"].astype(object)
    broken.loc[7, "income"] = "unknown"
    broken.loc[[3, 5], "loan_amount"] = np.inf
    broken["credit_score"] = np.nan
    with pytest.raises(DataValidationError) as error:
        check_scoring_batch(broken.drop(columns="region"), schema, "day.csv")
    cases = error.value.failure_cases
    rows = [None if pd.isna(r) else int(r) for r in cases["row"]]
    found = set(zip(cases["column"], rows, cases["check"], strict=True))
    assert found == {
        ("income", 7, "dtype: expected numeric"),
        ("loan_amount", 3, "finite"),
        ("loan_amount", 5, "finite"),
        ("credit_score", None, "not_all_missing"),
        ("region", None, "column_in_dataframe"),
    }
    assert str(error.value).startswith("day.csv cannot be scored")
