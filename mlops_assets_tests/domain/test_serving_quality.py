"""A request's cells and flags, without a server: cells holding more than one value are named
by row and column, hostile JSON is a 400, and scored rows are flagged per row."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mlops_assets.domain.schemas import ColumnSpec, DatasetSchema
from mlops_assets.domain.serving import RequestError, parse_invocation, prepare_rows
from mlops_assets.domain.serving_quality import assess_rows, cell_problems

SCHEMA = DatasetSchema(
    columns=(
        ColumnSpec("id", "id", "numeric"),
        ColumnSpec("age", "feature", "numeric"),
        ColumnSpec("city", "feature", "categorical", categories=("a", "b")),
        ColumnSpec("job", "feature", "categorical", categories=("x",), other_categories=True),
        ColumnSpec("y", "target", "categorical"),
    ),
    target="y",
    task="binary",
)


def _refused(body: bytes | str, content_type: str = "application/json") -> RequestError:
    raw = body.encode() if isinstance(body, str) else body
    with pytest.raises(RequestError) as refused:
        frame = parse_invocation(raw, content_type, ["city", "job"], records_list=True)
        prepare_rows(frame, SCHEMA, max_rows=100)
    return refused.value


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "too deep"),
        ('[{"age": {"a": 1}, "city": "a", "job": "x"}]', "row 0, column 'age': an object"),
        ('[{"age": 1, "city": "a", "job": "x"}, {"age": 2, "city": ["a"], "job": "x"}]', "row 1, "),
        ('[{"age": 1' + "0" * 4000 + ', "city": "a", "job": "x"}]', "integer of 4001 digits"),
        ('[{"age": 1' + "0" * 5000 + ', "city": "a", "job": "x"}]', "integer of 5001 digits"),
        ('[{"age": 1, "city": "a", "job": "x", "id": 99999999999999999999}]', "column 'id'"),
        ('{"dataframe_split": {"columns": [1, 2], "data": [[1, 2]]}}', "column names"),
        ('{"dataframe_split": {"columns": ["age", "age"], "data": [[1, 2]]}}', "more than once"),
    ],
)
def test_hostile_json_is_a_400_with_its_reason(body, reason):
    error = _refused(body)
    assert error.status == 400
    assert reason in str(error)


def test_numbers_among_text_categories_are_a_422_naming_the_column():
    error = _refused('[{"age": 1, "city": "a", "job": "x"}, {"age": 2, "city": 7, "job": "x"}]')
    assert (error.status, error.columns) == (422, ("city",))


def test_typed_and_plain_cells_pass_quickly():
    frame = pd.DataFrame({"age": [1.0, None], "city": ["a", None], "n": [1, 2]})
    assert cell_problems(frame, ["age", "city", "n", "absent"]) is None


def test_rows_are_flagged_for_unseen_categories_nulls_and_extra_columns():
    records = [
        {"id": 1, "age": 30, "city": "a", "job": "never-seen", "note": None},
        {"id": 2, "age": None, "city": "zz", "job": "x", "note": "hi"},
        {"id": 3, "age": 40, "city": None, "job": "x", "note": None},
    ]
    frame = parse_invocation(json.dumps(records).encode(), "", [], records_list=True)
    prepared = prepare_rows(frame, SCHEMA, max_rows=10)
    quality = assess_rows(frame, prepared.features, SCHEMA, prepared.extra_columns)
    # job keeps only its frequent categories: an unknown job is not called unseen
    assert quality.row_warnings() == [
        [],
        [
            {"column": "age", "kind": "null"},
            {"column": "city", "kind": "unseen_category", "value": "zz"},
            {"column": "note", "kind": "extra_column"},
        ],
        [{"column": "city", "kind": "null"}],
    ]
    assert quality.counts == {
        ("age", "null"): 1,
        ("city", "null"): 1,
        ("city", "unseen_category"): 1,
        ("note", "extra_column"): 1,
    }
    assert quality.header() == ("age:null=1,city:null=1,city:unseen_category=1,note:extra_column=1")
    assert quality.rows_header() == "1,2"


def test_the_flag_headers_stay_short():
    records = [{"age": None, "city": "a", "job": "x", f"extra_{i:03d}": 1} for i in range(300)]
    frame = pd.DataFrame.from_records(records)
    prepared = prepare_rows(frame, SCHEMA, max_rows=1000)
    quality = assess_rows(frame, prepared.features, SCHEMA, prepared.extra_columns)
    assert len(quality.header()) <= 1024
    assert quality.header().endswith(",...")
    assert quality.rows_header().endswith(",...")
    assert quality.rows_header().count(",") == 100
