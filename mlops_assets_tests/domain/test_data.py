from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_assets.domain.data import (
    DataSourceError,
    atomic_path,
    content_hash,
    read_sql_day,
    read_sql_table,
    read_table_directory,
    read_table_file,
    redact_url,
)


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.0, 2.0, np.nan], "c": ["a", "b", None], "y": [0, 1, 0]})


def test_content_hash_is_stable_and_sensitive_to_values_names_and_order():
    frame = _frame()
    assert content_hash(frame) == content_hash(frame.copy())
    changed = frame.copy()
    changed.loc[0, "x"] = 1.5
    assert content_hash(changed) != content_hash(frame)
    assert content_hash(frame.rename(columns={"x": "z"})) != content_hash(frame)
    assert content_hash(frame.iloc[::-1]) != content_hash(frame)


def test_csv_and_parquet_round_trip_to_the_same_hash(tmp_path: Path):
    frame = _frame()
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.to_parquet(tmp_path / "a.parquet", index=False)
    from_csv = read_table_file(tmp_path / "a.csv")
    from_parquet = read_table_file(tmp_path / "a.parquet")
    assert from_csv.shape == from_parquet.shape == (3, 3)
    assert from_csv["x"].tolist()[:2] == [1.0, 2.0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"x,c,y\n", "no data rows"),
        (b"x,c,y\n1,a,0\n2,\xff\xfe,1\n", "not valid UTF-8"),
        (b"\x00\x01\x02binary\x00", "binary content"),
        (b"x,x,y\n1,2,0\n", "duplicated column names ['x']"),
        (b'x,c,y\n1,"a,0\n', "malformed CSV"),
    ],
    ids=["empty", "header-only", "non-utf8", "binary", "duplicated-columns", "truncated-quote"],
)
def test_broken_csv_files_fail_with_a_message_naming_the_file(tmp_path, content, expected):
    path = tmp_path / "train.csv"
    path.write_bytes(content)
    with pytest.raises(DataSourceError) as error:
        read_table_file(path)
    assert str(path) in str(error.value)
    assert expected in str(error.value)


def test_truncated_parquet_fails_naming_the_file(tmp_path: Path):
    path = tmp_path / "train.parquet"
    _frame().to_parquet(path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataSourceError, match="truncated"):
        read_table_file(path)


def test_directory_source_concatenates_files_in_name_order(tmp_path: Path):
    _frame().to_csv(tmp_path / "2026-01-02.csv", index=False)
    _frame().assign(x=[7.0, 8.0, 9.0]).to_parquet(tmp_path / "2026-01-01.parquet")
    (tmp_path / "notes.txt").write_text("ignored")
    frame = read_table_directory(tmp_path)
    assert frame["x"].tolist()[:4] == [7.0, 8.0, 9.0, 1.0]


def test_directory_with_mismatched_headers_names_the_odd_file(tmp_path: Path):
    _frame().to_csv(tmp_path / "a.csv", index=False)
    _frame().drop(columns="c").to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(DataSourceError, match=r"b\.csv: columns differ .*missing \['c'\]"):
        read_table_directory(tmp_path)


def test_sql_table_is_read_by_reflection_and_unknown_tables_are_named(tmp_path: Path):
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'data.db'}"
    engine = sa.create_engine(url)
    _frame().to_sql("loans; drop table x", engine, index=False)
    engine.dispose()
    frame = read_sql_table(url, "loans; drop table x")
    assert len(frame) == 3
    with pytest.raises(DataSourceError, match="table 'nope' does not exist"):
        read_sql_table(url, "nope")


def test_redacted_url_hides_the_password():
    assert "s3cret" not in redact_url("postgresql://me:s3cret@db:5432/x")


def test_atomic_path_leaves_the_old_file_when_the_write_fails(tmp_path: Path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize(
    "stored",
    [
        pd.Series(["2026-01-02", "2026-01-03", "2026-01-03"]),  # TEXT of ISO dates
        pd.to_datetime(pd.Series(["2026-01-02", "2026-01-03", "2026-01-03"])).dt.date,  # DATE
        pd.to_datetime(pd.Series(["2026-01-02 23:59", "2026-01-03 00:00", "2026-01-03 18:30"])),
    ],
    ids=["iso-text", "date", "timestamp"],
)
def test_a_sql_day_is_selected_by_the_date_columns_own_type(tmp_path: Path, stored):
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'data.db'}"
    engine = sa.create_engine(url)
    pd.DataFrame({"x": [1, 2, 3], "day": stored}).to_sql("scores", engine, index=False)
    engine.dispose()
    # SQLite keeps a DATE as text '2026-01-03', which sorts before a bound datetime
    # '2026-01-03 00:00:00': comparing in the column's own type finds the day's two rows.
    assert read_sql_day(url, "scores", "day", date(2026, 1, 3))["x"].tolist() == [2, 3]
    assert read_sql_day(url, "scores", "day", date(2026, 1, 4), allow_empty=True).empty
    with pytest.raises(DataSourceError, match="no rows with day on 2026-01-04"):
        read_sql_day(url, "scores", "day", date(2026, 1, 4))


def test_a_sql_date_column_of_another_type_is_named(tmp_path: Path):
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'data.db'}"
    engine = sa.create_engine(url)
    pd.DataFrame({"x": [1], "day": [20260103]}).to_sql("scores", engine, index=False)
    engine.dispose()
    with pytest.raises(DataSourceError, match="date column 'day' has type BIGINT"):
        read_sql_day(url, "scores", "day", date(2026, 1, 3))
    with pytest.raises(DataSourceError, match="MLOPS_LABELS_TABLE and MLOPS_LABELS_DATE_COLUMN"):
        read_sql_day(url, "scores", "", date(2026, 1, 3), source="MLOPS_LABELS")
