"""The service's pure parts: bodies into rows, the schema contract on a request, the log's rows,
and a day directory of parts read as one day."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from mlops_assets.contracts import SERVED_AT_COLUMN, SERVED_MODEL_VERSION_COLUMN
from mlops_assets.domain.data import DataSourceError, atomic_path, daily_file, read_daily
from mlops_assets.domain.schemas import ColumnSpec, DatasetSchema
from mlops_assets.domain.served_rows import ServedRequest, served_rows
from mlops_assets.domain.serving import RequestError, parse_invocation, prepare_rows

SCHEMA = DatasetSchema(
    columns=(
        ColumnSpec("id", "id", "numeric"),
        ColumnSpec("age", "feature", "numeric"),
        ColumnSpec("city", "feature", "categorical", categories=("a", "b")),
        ColumnSpec("y", "target", "categorical"),
    ),
    target="y",
    task="binary",
)


def _body(frame: pd.DataFrame) -> bytes:
    return json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False))})


def test_json_split_records_and_csv_give_the_same_rows():
    frame = pd.DataFrame({"age": [41, 52.5], "city": ["a", "01"]})
    records = json.dumps({"dataframe_records": frame.to_dict(orient="records")}).encode()
    csv = frame.to_csv(index=False).encode()
    for body, kind in ((_body(frame).encode(), "application/json"), (records, "application/json")):
        parsed = parse_invocation(body, kind, ["city"])
        assert parsed.to_dict(orient="list") == frame.to_dict(orient="list")
    from_csv = parse_invocation(csv, "text/csv; charset=utf-8", ["city"])
    assert from_csv["city"].tolist() == ["a", "01"]  # a code stays text


def test_another_charset_or_content_type_is_415_and_a_bad_body_400():
    for kind in ("text/csv; charset=latin-1", "application/xml"):
        with pytest.raises(RequestError) as refused:
            parse_invocation(b"age\n1\n", kind, [])
        assert refused.value.status == 415
    with pytest.raises(RequestError) as bad:
        parse_invocation(b'{"instances": [1]}', "application/json", [])
    assert bad.value.status == 400


def test_prepare_rows_types_numbers_as_float_keeps_ids_and_names_bad_columns():
    frame = pd.DataFrame({"id": [7, 8], "age": [41, None], "city": ["c", "a"], "extra": [1, 2]})
    prepared = prepare_rows(frame, SCHEMA, max_rows=10)
    assert prepared.features.dtypes["age"] == np.float64
    assert prepared.features.columns.tolist() == ["age", "city"]
    assert prepared.ids["id"].tolist() == [7, 8]
    assert prepared.extra_columns == ("extra",)
    for bad, column in (
        (frame.drop(columns=["age"]), "age"),
        (frame.assign(age=["old", "young"]), "age"),
        (frame.assign(city=[1, 2]), "city"),
        (frame.assign(age=[1.0, float("inf")]), "age"),
    ):
        with pytest.raises(RequestError) as refused:
            prepare_rows(bad, SCHEMA, max_rows=10)
        assert (refused.value.status, refused.value.columns) == (422, (column,))
    with pytest.raises(RequestError) as too_many:
        prepare_rows(frame, SCHEMA, max_rows=1)
    assert too_many.value.status == 413


def test_served_rows_repeat_each_requests_version_and_time_over_its_rows():
    frame = pd.DataFrame({"id": [1, 2, 3], "age": [1.0, 2.0, 3.0], "city": ["a", "b", "a"]})
    first = prepare_rows(frame.head(2), SCHEMA, 10)
    second = prepare_rows(frame.tail(1), SCHEMA, 10)
    at = datetime(2026, 1, 5, 23, 59, tzinfo=UTC)
    rows = served_rows(
        [
            ServedRequest(first, np.array(["0", "1"]), np.array([0.2, 0.7]), "1", at, "r1"),
            ServedRequest(second, np.array(["1"]), np.array([0.9]), "2", at, "r2"),
        ]
    )
    assert rows["id"].tolist() == [1, 2, 3]
    assert rows[SERVED_MODEL_VERSION_COLUMN].tolist() == ["1", "1", "2"]
    assert str(rows[SERVED_AT_COLUMN].dt.tz) == "UTC"


def test_a_day_directory_of_parts_reads_as_the_day_without_files_being_written(tmp_path):
    day = tmp_path / "2026-01-05"
    pd.DataFrame({"a": [1.0, 2.0]}).to_parquet(tmp_path / "part.parquet")
    day.mkdir()
    with pytest.raises(DataSourceError, match="no Parquet part"):
        read_daily(daily_file(tmp_path, date(2026, 1, 5)))
    pd.DataFrame({"a": [1.0, 2.0]}).to_parquet(day / "000001.parquet")
    pd.DataFrame({"a": [3.0], "b": ["new"]}).to_parquet(day / "000002.parquet")
    with atomic_path(day / "000003.parquet") as unfinished:  # a part being written
        pd.DataFrame({"a": [9.0]}).to_parquet(unfinished)
        read = read_daily(daily_file(tmp_path, date(2026, 1, 5)))
    assert read["a"].tolist() == [1.0, 2.0, 3.0]
    assert read["b"].isna().tolist() == [True, True, False]


def test_scoring_starts_at_the_earliest_day_directory_of_a_request_log(tmp_path):
    from mlops_assets.resources.data_source import scoring_start

    (tmp_path / "2026-03-04").mkdir()
    (tmp_path / "2026-03-09.parquet").write_bytes(b"x")
    assert scoring_start({"MLOPS_SCORING_DATA": str(tmp_path)}) == "2026-03-04"
