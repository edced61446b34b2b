"""The user's column settings (MLOPS_ID_COLUMNS, MLOPS_EXCLUDE_COLUMNS, MLOPS_TIMESTAMP_COLUMN)
checked against a table before anything is stored."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlops_assets.domain.schemas.model import DataValidationError, failure_cases_table

if TYPE_CHECKING:
    import pandas as pd

# A timestamp column must parse as dates for at least this share of its non-missing values.
MIN_DATE_SHARE = 0.99
PLAIN_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def parse_column_list(text: str) -> tuple[str, ...]:
    """`"a, b,,c"` -> ("a", "b", "c"): the comma lists of MLOPS_ID_COLUMNS and friends."""
    return tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))


def check_column_settings(
    frame: pd.DataFrame,
    source: str,
    *,
    target: str = "",
    timestamp_column: str = "",
    id_columns: Sequence[str] = (),
    exclude_columns: Sequence[str] = (),
) -> None:
    """The configured column names exist and the timestamp holds dates, before anything is
    stored. Raises DataValidationError naming the variable, the column and what exists."""
    available = ", ".join(map(str, frame.columns))
    problems = []
    for variable, names in (
        ("MLOPS_ID_COLUMNS", id_columns),
        ("MLOPS_EXCLUDE_COLUMNS", exclude_columns),
        ("MLOPS_TIMESTAMP_COLUMN", [timestamp_column] if timestamp_column else []),
    ):
        problems += [(variable, n) for n in names if n not in frame.columns]
    if problems:
        named = "; ".join(f"{v} names column {n!r}" for v, n in problems)
        raise DataValidationError(
            f"{source}: {named}, which the table does not have (columns: {available}). Fix the "
            "variable (or the run config of the data_source resource).",
            failure_cases_table(source, [(n, None, v, "column_in_dataframe") for v, n in problems]),
        )
    for variable, names in (
        ("MLOPS_ID_COLUMNS", id_columns),
        ("MLOPS_EXCLUDE_COLUMNS", exclude_columns),
    ):
        clash = [n for n in names if n in (target, timestamp_column)]
        if clash:
            raise DataValidationError(
                f"{source}: {variable} names {clash[0]!r}, which is the target or timestamp "
                f"column. Remove it from {variable}.",
                failure_cases_table(source, [(clash[0], None, variable, "role_conflict")]),
            )
    both = sorted(set(id_columns) & set(exclude_columns))
    if both:
        raise DataValidationError(
            f"{source}: column {both[0]!r} is in both MLOPS_ID_COLUMNS and MLOPS_EXCLUDE_COLUMNS; "
            "keep it in one of them.",
            failure_cases_table(source, [(both[0], None, None, "role_conflict")]),
        )
    if timestamp_column:
        problem = timestamp_problem(frame[timestamp_column])
        if problem:
            sample = frame[timestamp_column].dropna().head(5).tolist()
            raise DataValidationError(
                f"{source}: MLOPS_TIMESTAMP_COLUMN names column {timestamp_column!r}, which "
                f"does not hold dates: {problem} (sample values: {sample}). Set "
                "MLOPS_TIMESTAMP_COLUMN to a column of dates (a datetime column or ISO 8601 "
                "text), or unset it for a stratified split.",
                failure_cases_table(
                    source, [(timestamp_column, None, repr(sample), "timestamp_is_dates")]
                ),
            )


def timestamp_problem(series: pd.Series) -> str | None:
    """Why `series` is not a usable timestamp, or None. Datetime columns pass; text passes when
    at least MIN_DATE_SHARE of its non-missing values parse as dates. Numbers are refused:
    pandas would read them as nanoseconds since 1970, a "date" that means nothing."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series):
        return None if series.notna().any() else "every value is missing"
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return f"it is a {series.dtype} column of plain numbers, not dates"
    present = series.dropna().astype(str)
    if not len(present):
        return "every value is missing"
    # A sample bounds the cost on large tables; parsing is element-wise for mixed formats.
    sample = present.sample(n=min(len(present), 5000), random_state=0)
    numbers = sample.str.match(PLAIN_NUMBER)
    parsed = pd.to_datetime(sample.where(~numbers), errors="coerce", format="mixed")
    share = float(parsed.notna().mean())
    if share < MIN_DATE_SHARE:
        return (
            f"only {share:.1%} of its non-missing values parse as dates "
            f"(at least {MIN_DATE_SHARE:.0%} needed)"
        )
    return None
