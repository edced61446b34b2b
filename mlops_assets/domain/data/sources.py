"""Reading tabular sources: CSV and Parquet files, directories of them, daily files, SQL tables.

Every reader turns the ways a file can be broken (empty, header only, truncated, binary garbage,
duplicated column names) into a `DataSourceError` that names the file and says what to do, so a
run fails at the first asset that can know.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_assets.domain.data.errors import DataSourceError

if TYPE_CHECKING:
    import pandas as pd


TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def read_table_file(path: Path, text_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Read one CSV or Parquet file, with an actionable error for each way it can be broken.

    `text_columns` are read from a CSV as text, whatever they look like: a category coded
    "01", "02", "10" would otherwise come back as the integers 1, 2, 10 (a CSV has no types).
    """
    import pandas as pd

    if not path.exists():
        raise DataSourceError(f"{path}: file not found. Check MLOPS_TRAINING_DATA.", check="exists")
    if path.stat().st_size == 0:
        raise DataSourceError(
            f"{path}: the file is empty (0 bytes). Export the data again.", check="not_empty"
        )
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = _read_csv(path, text_columns)
    elif suffix in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except Exception as error:
            raise DataSourceError(
                f"{path}: not a readable Parquet file ({type(error).__name__}: "
                f"{' '.join(str(error).split())}). "
                "The file may be truncated or not Parquet; export it again.",
                check="parquet_readable",
            ) from error
        duplicated = sorted({str(c) for c in frame.columns if list(frame.columns).count(c) > 1})
        if duplicated:
            raise _duplicated_columns(path, duplicated)
    else:
        raise DataSourceError(
            f"{path}: unsupported file type {suffix!r}; use one of {', '.join(TABLE_SUFFIXES)}.",
            check="file_type",
        )
    if frame.empty:
        raise DataSourceError(
            f"{path}: no data rows (columns: {', '.join(map(str, frame.columns)) or 'none'}). "
            "Export the data again with its rows.",
            check="has_rows",
        )
    return frame


def _duplicated_columns(path: Path, duplicated: list[str]) -> DataSourceError:
    return DataSourceError(
        f"{path}: duplicated column names {duplicated}; rename them so each is unique.",
        check="unique_column_names",
        column=", ".join(duplicated),
    )


def _read_csv(path: Path, text_columns: Sequence[str] = ()) -> pd.DataFrame:
    import pandas as pd

    with path.open("rb") as handle:
        head = handle.read(8192)
    if b"\x00" in head:
        raise DataSourceError(
            f"{path}: binary content (NUL bytes) in a .csv file; not a CSV. Deliver the data as "
            "UTF-8 CSV or Parquet.",
            check="text_file",
            value=f"NUL at byte {head.index(0)}",
        )
    header = head.splitlines()[0].decode("utf-8", errors="replace").split(",") if head else []
    duplicated = sorted({name.strip() for name in header if header.count(name) > 1})
    if duplicated:
        raise _duplicated_columns(path, duplicated)
    _check_last_line(path, len(header))
    try:
        return pd.read_csv(
            path,
            encoding="utf-8",
            low_memory=False,
            # `str`: pandas 3's default text dtype, missing values NaN as everywhere else.
            dtype={name: str for name in text_columns} or None,
        )
    except UnicodeDecodeError as error:
        line, offset, raw = _first_undecodable_line(path)
        raise DataSourceError(
            f"{path}: not valid UTF-8 at line {line} (data row {line - 2}, byte {offset} of the "
            f"line: {raw!r}). Re-export the file as UTF-8.",
            check="utf8",
            row=line - 2,
            value=raw.decode("utf-8", errors="backslashreplace"),
        ) from error
    except pd.errors.EmptyDataError as error:
        raise DataSourceError(
            f"{path}: no columns to read; the file has no header.", check="has_header"
        ) from error
    except pd.errors.ParserError as error:
        raise DataSourceError(
            f"{path}: malformed CSV ({error}). The file may be truncated; export it again.",
            check="well_formed",
        ) from error


def _first_undecodable_line(path: Path) -> tuple[int, int, bytes]:
    """1-based line number, byte offset in that line and the bytes around the first invalid
    UTF-8 sequence (pandas reports offsets into its own buffer, not the file)."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as error:
                return number, error.start, line[max(0, error.start - 8) : error.end + 8]
    return 0, 0, b""


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
        line = _count_lines(path) + 1
        raise DataSourceError(
            f"{path}: malformed CSV: the last line ({line}, data row {line - 2}) has "
            f"{len(fields)} of {n_columns} fields and no line end, so the file looks truncated; "
            "export it again.",
            check="complete_last_line",
            row=line - 2,
            value=last[:80],
        )


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
    return count


def read_table_directory(directory: Path) -> pd.DataFrame:
    """Concatenate every CSV/Parquet file of a directory, in name order, checking their columns."""
    import pandas as pd

    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in TABLE_SUFFIXES)
    if not files:
        raise DataSourceError(
            f"{directory}: no {'/'.join(TABLE_SUFFIXES)} files in this directory.",
            check="has_files",
        )
    frames = [read_table_file(path) for path in files]
    first_columns = list(frames[0].columns)
    for path, frame in zip(files[1:], frames[1:], strict=True):
        if list(frame.columns) != first_columns:
            missing = sorted(set(first_columns) - set(frame.columns))
            extra = sorted(set(frame.columns) - set(first_columns))
            raise DataSourceError(
                f"{path}: columns differ from {files[0].name} (missing {missing}, extra {extra}); "
                "all files of a directory source must share one header.",
                check="same_header",
                column=", ".join(map(str, missing + extra)),
            )
    return pd.concat(frames, ignore_index=True)


def daily_file(directory: Path, day: date) -> Path:
    """The file of `day` in a directory of daily files `YYYY-MM-DD.parquet` / `.csv`, or the
    day's directory `YYYY-MM-DD/` of Parquet parts (the serving request log's layout: each part
    written whole, so a day can grow while it is read). Read either with `read_daily`.

    Raises DataSourceError naming the directory, the expected names and any file that looks
    like this day's under another name (`20260105.csv`, `2026_01_05.CSV`, ...).
    """
    if not directory.is_dir():
        raise DataSourceError(
            f"{directory}: MLOPS_SCORING_DATA must be a directory of daily files "
            "named YYYY-MM-DD.csv or YYYY-MM-DD.parquet.",
            check="directory_exists",
        )
    for suffix in (".parquet", ".csv", ""):
        path = directory / f"{day.isoformat()}{suffix}"
        if path.exists():
            return path
    spellings = {
        day.isoformat(),
        day.strftime("%Y%m%d"),
        day.strftime("%Y_%m_%d"),
        day.strftime("%d-%m-%Y"),
        day.strftime("%d.%m.%Y"),
        f"{day.year}-{day.month}-{day.day}",
    }
    names = sorted(p.name for p in directory.iterdir())
    lookalikes = [n for n in names if any(s in n for s in spellings)]
    expected = f"{day}.csv or {day}.parquet"
    if lookalikes:
        hint = (
            f"found {', '.join(lookalikes)}, which looks like this day's file under another "
            f"name: rename it to {day}.csv or {day}.parquet (CSV or Parquet, lower-case suffix)."
        )
    else:
        listed = [n for n in names if n.lower().endswith(TABLE_SUFFIXES)]
        hint = (
            f"found {len(listed)} other daily files ({', '.join(listed[-3:]) or 'none'}"
            f"{', ...' if len(listed) > 3 else ''}). Deliver the day's file, then re-run the "
            "partition."
        )
    raise DataSourceError(
        f"{directory}: no file for partition {day} (expected {expected}); {hint}",
        check="file_for_partition",
        value=", ".join(lookalikes) or None,
    )


def read_daily(path: Path, text_columns: Sequence[str] = ()) -> pd.DataFrame:
    """A day from `daily_file`: its file, or every Parquet part of its directory in name order.
    `text_columns`: as in `read_table_file`.

    Parts may differ in columns (the served model changed its features during the day): the
    day holds their union, a column missing from a part is empty on its rows. Files being
    written (`.<name>.*.tmp`, see atomic_files) are not parts.
    """
    import pandas as pd

    if not path.is_dir():
        return read_table_file(path, text_columns)
    parts = sorted(p for p in path.glob("*.parquet") if not p.name.startswith("."))
    if not parts:
        raise DataSourceError(
            f"{path}: the day's directory holds no Parquet part yet (nothing was logged, or the "
            "first flush has not happened). Re-run the partition once the day has data.",
            check="has_rows",
        )
    return pd.concat([read_table_file(part) for part in parts], ignore_index=True)


def read_sql_table(url: str, table: str) -> pd.DataFrame:
    """Read a whole table through SQLAlchemy; the table name is quoted, never formatted into SQL."""
    import pandas as pd
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


def read_sql_day(
    url: str,
    table: str,
    date_column: str,
    day: date,
    *,
    source: str = "MLOPS_SCORING",
    allow_empty: bool = False,
) -> pd.DataFrame:
    """The rows of one day from a SQL table, selected with bound parameters.

    `source` is the prefix of the settings an error names (MLOPS_SCORING, MLOPS_LABELS). A day
    with no rows is an error unless `allow_empty` (labels not delivered yet are no error).
    """
    import pandas as pd
    import sqlalchemy as sa

    if not (table and date_column):
        raise DataSourceError(
            f"{redact_url(url)}: a SQL source ({source}_DATA) needs {source}_TABLE and "
            f"{source}_DATE_COLUMN."
        )
    engine = sa.create_engine(url)
    try:
        reflected = _reflect_table(engine, url, table)
        if date_column not in reflected.c:
            raise DataSourceError(
                f"{redact_url(url)}: table {table!r} has no column {date_column!r}."
            )
        column = reflected.c[date_column]
        low, high = _day_bounds(column, day, f"{redact_url(url)}: table {table!r}")
        query = sa.select(reflected).where(column >= low, column < high)
        with engine.connect() as connection:
            frame = pd.read_sql(query, connection)
    finally:
        engine.dispose()
    if frame.empty and not allow_empty:
        raise DataSourceError(
            f"{redact_url(url)}: table {table!r} has no rows with {date_column} on {day}."
        )
    return frame


def _day_bounds(column: Any, day: date, where: str) -> tuple[Any, Any]:
    """[low, high) of `day` in the column's own type. A DATE column compared with a datetime
    misses every row in SQLite (stored text '2026-01-03' sorts before '2026-01-03 00:00:00'),
    and a text column of ISO dates is common in real tables: bounds of the column's type keep
    the comparison exact in each."""
    import sqlalchemy as sa

    column_type = column.type
    if isinstance(column_type, sa.DateTime):
        start = datetime.combine(day, time.min)
        return start, start + timedelta(days=1)
    if isinstance(column_type, sa.Date):
        return day, day + timedelta(days=1)
    if isinstance(column_type, sa.String):
        # ISO text ('2026-01-03' or '2026-01-03 10:00:00') sorts as its moments do.
        return day.isoformat(), (day + timedelta(days=1)).isoformat()
    raise DataSourceError(
        f"{where}: date column {column.name!r} has type {column_type}, neither a date, a "
        "timestamp nor ISO text (YYYY-MM-DD...); give a column of one of those types."
    )


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
