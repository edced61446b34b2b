"""Reading tabular sources, content hashing and atomic writes.

Every reader turns the ways a file can be broken (empty, header only, truncated, binary garbage,
duplicated column names) into a `DataSourceError` that names the file and says what to do, so a
run fails at the first asset that can know.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


class DataSourceError(ValueError):
    """A data source could not be read as a table; the message names the source and the fix."""


def content_hash(df: pd.DataFrame) -> str:
    """Order-sensitive SHA-256 of a frame's column names, dtypes and values.

    Used as the Dagster data version: the same content gives the same hash on any machine, so
    an unchanged source leaves downstream assets fresh.
    """
    digest = hashlib.sha256()
    for name, dtype in df.dtypes.items():
        digest.update(f"{name}\x1f{dtype}\x1e".encode())
    row_hashes = pd.util.hash_pandas_object(df, index=False).to_numpy()
    digest.update(row_hashes.tobytes())
    return digest.hexdigest()


def read_table_file(path: Path) -> pd.DataFrame:
    """Read one CSV or Parquet file, with an actionable error for each way it can be broken."""
    if not path.exists():
        raise DataSourceError(f"{path}: file not found. Check MLOPS_TRAINING_DATA.")
    if path.stat().st_size == 0:
        raise DataSourceError(f"{path}: the file is empty (0 bytes). Export the data again.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = _read_csv(path)
    elif suffix in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except Exception as error:
            raise DataSourceError(
                f"{path}: not a readable Parquet file ({type(error).__name__}: {error}). "
                "The file may be truncated or not Parquet; write it again."
            ) from error
    else:
        raise DataSourceError(
            f"{path}: unsupported file type {suffix!r}; use one of {', '.join(TABLE_SUFFIXES)}."
        )
    if frame.empty:
        raise DataSourceError(
            f"{path}: no data rows (columns: {', '.join(map(str, frame.columns)) or 'none'})."
        )
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    with path.open("rb") as handle:
        head = handle.read(8192)
    if b"\x00" in head:
        raise DataSourceError(f"{path}: binary content (NUL bytes) in a .csv file; not a CSV.")
    header = head.splitlines()[0].decode("utf-8", errors="replace").split(",") if head else []
    duplicated = sorted({name.strip() for name in header if header.count(name) > 1})
    if duplicated:
        raise DataSourceError(
            f"{path}: duplicated column names {duplicated}; rename them so each is unique."
        )
    _check_last_line(path, len(header))
    try:
        return pd.read_csv(path, encoding="utf-8", low_memory=False)
    except UnicodeDecodeError as error:
        line = head[: error.start].count(b"\n") + 1 if error.start < len(head) else "unknown"
        raise DataSourceError(
            f"{path}: not valid UTF-8 (byte offset {error.start}, line {line}). "
            "Re-export the file as UTF-8."
        ) from error
    except pd.errors.EmptyDataError as error:
        raise DataSourceError(f"{path}: no columns to read; the file has no header.") from error
    except pd.errors.ParserError as error:
        raise DataSourceError(
            f"{path}: malformed CSV ({error}). The file may be truncated; export it again."
        ) from error


def _check_last_line(path: Path, n_columns: int) -> None:
    """A file cut off mid-write ends in a short line, which pandas silently pads with NaN."""
    import csv

    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 65536))
        tail = handle.read()
    if tail.endswith(b"\n"):
        return
    lines = tail.splitlines()
    last = lines[-1].decode("utf-8", errors="replace") if lines else ""
    fields = next(csv.reader([last]), [])
    if len(fields) != n_columns or last.count('"') % 2:
        raise DataSourceError(
            f"{path}: malformed CSV: the last line has {len(fields)} of {n_columns} fields "
            "and no line end, so the file looks truncated; export it again."
        )


def read_table_directory(directory: Path) -> pd.DataFrame:
    """Concatenate every CSV/Parquet file of a directory, in name order, checking their columns."""
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in TABLE_SUFFIXES)
    if not files:
        raise DataSourceError(
            f"{directory}: no {'/'.join(TABLE_SUFFIXES)} files in this directory."
        )
    frames = [read_table_file(path) for path in files]
    first_columns = list(frames[0].columns)
    for path, frame in zip(files[1:], frames[1:], strict=True):
        if list(frame.columns) != first_columns:
            missing = sorted(set(first_columns) - set(frame.columns))
            extra = sorted(set(frame.columns) - set(first_columns))
            raise DataSourceError(
                f"{path}: columns differ from {files[0].name} (missing {missing}, extra {extra}); "
                "all files of a directory source must share one header."
            )
    return pd.concat(frames, ignore_index=True)


def read_sql_table(url: str, table: str) -> pd.DataFrame:
    """Read a whole table through SQLAlchemy; the table name is quoted, never formatted into SQL."""
    import sqlalchemy as sa

    if not table:
        raise DataSourceError(
            f"{redact_url(url)}: a SQL source needs a table name (MLOPS_TRAINING_TABLE)."
        )
    engine = sa.create_engine(url)
    try:
        reflected = _reflect_table(engine, url, table)
        with engine.connect() as connection:
            frame = pd.read_sql(sa.select(reflected), connection)
    finally:
        engine.dispose()
    if frame.empty:
        raise DataSourceError(f"{redact_url(url)}: table {table!r} has no rows.")
    return frame


def read_sql_day(url: str, table: str, date_column: str, day: date) -> pd.DataFrame:
    """The rows of one day from a SQL table, selected with bound parameters."""
    import sqlalchemy as sa

    if not (table and date_column):
        raise DataSourceError(
            f"{redact_url(url)}: a SQL scoring source needs MLOPS_SCORING_TABLE and "
            "MLOPS_SCORING_DATE_COLUMN."
        )
    engine = sa.create_engine(url)
    try:
        reflected = _reflect_table(engine, url, table)
        if date_column not in reflected.c:
            raise DataSourceError(
                f"{redact_url(url)}: table {table!r} has no column {date_column!r}."
            )
        column = reflected.c[date_column]
        start = datetime.combine(day, time.min)
        query = sa.select(reflected).where(column >= start, column < start + timedelta(days=1))
        with engine.connect() as connection:
            frame = pd.read_sql(query, connection)
    finally:
        engine.dispose()
    if frame.empty:
        raise DataSourceError(
            f"{redact_url(url)}: table {table!r} has no rows with {date_column} on {day}."
        )
    return frame


def _reflect_table(engine: Any, url: str, table: str) -> Any:
    # Reflection plus SQLAlchemy's quoting: a configured name is never formatted into SQL.
    import sqlalchemy as sa

    schema, _, name = table.rpartition(".")
    try:
        return sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=engine)
    except sa.exc.NoSuchTableError as error:
        raise DataSourceError(f"{redact_url(url)}: table {table!r} does not exist.") from error


def redact_url(url: str) -> str:
    """A SQLAlchemy URL with its password hidden, for messages and metadata."""
    import sqlalchemy as sa

    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def is_sql_url(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


@contextmanager
def atomic_path(final_path: Path) -> Iterator[Path]:
    """Yield a temp path beside `final_path`; rename it into place only if the block succeeds.

    Readers never see a half-written file: either the old content or the new one.
    """
    final_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{final_path.name}.", suffix=".tmp", dir=final_path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp_name)
    try:
        yield tmp_path
        os.replace(tmp_path, final_path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_parquet_atomic(frame: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return path


def write_text_atomic(text: str, path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
