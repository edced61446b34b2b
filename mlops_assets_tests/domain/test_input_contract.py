"""The input contract: delivered types recorded at first training, conformed later, compared."""

from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.domain.schemas import (
    DatasetSchema,
    DataValidationError,
    InputColumn,
    categorical_codes_as_text,
    check_scoring_batch,
    conform_to_contract,
    infer_schema,
    signature_incompatibilities,
)

CAR_LOAN = Path(__file__).parent.parent / "data" / "car_loan" / "train.csv"


@pytest.fixture(scope="module")
def schema():
    return infer_schema(pd.read_csv(CAR_LOAN), "repaid", "timestamp")


def test_the_contract_records_the_type_each_feature_was_delivered_as(schema):
    types = {c.name: c.input_type for c in schema.columns if c.role == "feature"}
    assert types["repaid_loan_on_prev_car"] == "boolean"
    assert types["salary_range"] == "string"
    assert types["car_value"] == "double"
    assert schema.column("repaid").input_type is None


def test_a_boolean_stored_as_text_is_conformed_back_to_booleans(schema):
    stored = pd.read_csv(CAR_LOAN, dtype={"repaid_loan_on_prev_car": str})
    stored.loc[3, "repaid_loan_on_prev_car"] = None
    conformed = conform_to_contract(stored, schema, "stored day")
    column = conformed["repaid_loan_on_prev_car"]
    assert column.iloc[3] is None
    assert set(column.dropna()) == {True, False}
    assert all(isinstance(v, bool) for v in column.dropna())
    assert conformed["salary_range"].equals(stored["salary_range"])


def test_a_value_that_is_no_boolean_is_refused_naming_column_and_row(schema):
    stored = pd.read_csv(CAR_LOAN)
    stored["repaid_loan_on_prev_car"] = stored["repaid_loan_on_prev_car"].astype(object)
    stored.loc[7, "repaid_loan_on_prev_car"] = "maybe"
    with pytest.raises(DataValidationError, match="input contract") as caught:
        conform_to_contract(stored, schema, "2026-02-06.csv")
    cases = caught.value.failure_cases
    assert cases[["column", "row", "value"]].values.tolist() == [
        ["repaid_loan_on_prev_car", 7, "maybe"]
    ]


def _scored_as_scoring_data_does(day: pd.DataFrame, schema: DatasetSchema) -> pd.DataFrame:
    conformed = conform_to_contract(categorical_codes_as_text(day, schema), schema, "day")
    check_scoring_batch(conformed, schema, "day")
    return conformed


def test_a_numeric_category_code_is_conformed_to_its_text():
    frame = pd.DataFrame({"y": [0, 1] * 30, "region": ["3", "10"] * 30, "x": range(60)})
    schema = infer_schema(frame, "y")
    read_as_numbers = frame.assign(region=[3.0, 10.0] * 30)
    # The contract alone leaves numbers be: only the training categories say which text a
    # number stands for.
    assert conform_to_contract(read_as_numbers, schema, "day")["region"].tolist()[:2] == [3, 10]
    conformed = _scored_as_scoring_data_does(read_as_numbers, schema)
    assert conformed["region"].tolist()[:2] == ["3", "10"]


def test_an_integer_code_no_number_spells_back_is_refused_in_a_plain_text_column():
    # "01" is no number's text, so an integer 1 cannot be known to mean it: refused, not
    # scored as the unseen category "1" (2 and 10 would still match "2" and "10").
    region = ["01", "2", "10"] * 20
    frame = pd.DataFrame({"y": [0, 1, 1] * 20, "region": region, "x": range(60)})
    schema = infer_schema(frame, "y")
    assert frame["region"].dtype != "category"
    day = frame.assign(region=[1, 2, 10] * 20)
    with pytest.raises(DataValidationError, match="region") as caught:
        _scored_as_scoring_data_does(day, schema)
    cases = caught.value.failure_cases
    assert cases["column"].tolist() == ["region"]
    assert cases["check"].iloc[0].startswith("dtype: expected text categories")


def test_a_boolean_in_a_text_column_is_conformed_to_its_text():
    frame = pd.DataFrame({"y": [0, 1] * 30, "flag": ["True", "False"] * 30, "x": range(60)})
    schema = infer_schema(frame, "y")
    conformed = conform_to_contract(frame.assign(flag=[True, False] * 30), schema, "day")
    assert conformed["flag"].tolist()[:2] == ["True", "False"]


def test_a_signature_accepting_everything_the_champion_accepts_is_compatible():
    champion = [InputColumn("age", "long"), InputColumn("owner", "boolean")]
    assert (
        signature_incompatibilities(champion, [InputColumn("age", "double"), *champion[1:]]) == []
    )
    assert signature_incompatibilities(champion, [InputColumn("age", "any")]) == []


def test_a_narrower_type_or_a_newly_required_column_is_incompatible():
    champion = [InputColumn("owner", "boolean"), InputColumn("age", "double")]
    reasons = signature_incompatibilities(
        champion,
        [
            InputColumn("owner", "string"),
            InputColumn("age", "long"),
            InputColumn("region", "string"),
        ],
    )
    assert reasons == [
        "column 'owner' typed string, the champion's boolean: inputs the champion accepts as "
        "boolean would be refused",
        "column 'age' typed long, the champion's double: inputs the champion accepts as double "
        "would be refused",
        "requires column 'region', which the champion does not",
    ]


def test_pandas_categories_are_declared_any_since_mlflow_refuses_them_for_string():
    frame = pd.DataFrame({"y": [0, 1] * 30, "code": pd.Categorical(["0", "10"] * 30)})
    frame["x"] = range(60)
    schema = infer_schema(frame, "y")
    assert schema.column("code").input_type == "any"


def test_a_column_the_champion_declared_optional_is_no_narrowing():
    """MLflow's inference calls a column optional when its 5-row example holds a null; the
    pipeline needs every feature anyway, so requiring it refuses nothing that ever scored."""
    champion = [InputColumn("income", "any", required=False)]
    assert signature_incompatibilities(champion, [InputColumn("income", "any")]) == []
