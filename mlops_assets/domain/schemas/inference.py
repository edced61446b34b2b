"""Schema inference: the roles (with the reason for each), kinds and null budgets of a first
training table, and the expectations (ranges, categories, null shares) learned from a window."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlops_assets.domain.schemas.column_settings import PLAIN_NUMBER, check_column_settings
from mlops_assets.domain.schemas.input_contract import input_type_of
from mlops_assets.domain.schemas.model import (
    FAILURE_COLUMNS,
    SCHEMA_FORMAT,
    ColumnSpec,
    DatasetSchema,
    DataValidationError,
    Kind,
    failure_cases_table,
    failure_message,
    infer_task,
    is_number_column,
    label_strings,
)

if TYPE_CHECKING:
    import pandas as pd

# Categories listed in the expectations: the most frequent ones, the rest count as "other". The
# same cap as the pipeline's OneHotEncoder(max_categories=50), so the schema describes what the
# model distinguishes.
MAX_CATEGORIES = 50
# Below this many rows, "unique on every row" or "mostly distinct" says nothing about a column.
MIN_ROWS_FOR_ROLES = 50
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")

ID_REASON = "unique per row: treated as an id; set MLOPS_ID_COLUMNS to confirm"


def infer_schema(
    frame: pd.DataFrame,
    target: str,
    timestamp_column: str | None = None,
    range_margin: float = 0.5,
    source: str = "training data",
    id_columns: Sequence[str] = (),
    exclude_columns: Sequence[str] = (),
) -> DatasetSchema:
    """A schema from the first training data: roles (with the reason for each), kinds, null
    budgets, and the expectations (ranges, categories, null shares) of this data.

    `id_columns` and `exclude_columns` are the user's (MLOPS_ID_COLUMNS, MLOPS_EXCLUDE_COLUMNS);
    other roles are inferred: a column unique on every row is an id, a constant, date or free
    text column is ignored. Ranges are widened by `range_margin` times the observed span on each
    side. Any problem names the column and what to do.
    """
    import pandas as pd

    problems: list[dict[str, object]] = []
    if target not in frame.columns:
        raise DataValidationError(
            f"{source}: target column {target!r} is missing "
            f"(columns: {', '.join(map(str, frame.columns))}). Set MLOPS_TARGET_COLUMN to the "
            "column to predict.",
            failure_cases_table(source, [(target, None, None, "column_in_dataframe")]),
        )
    if timestamp_column and timestamp_column not in frame.columns:
        raise DataValidationError(
            f"{source}: timestamp column {timestamp_column!r} is missing.",
            failure_cases_table(source, [(timestamp_column, None, None, "column_in_dataframe")]),
        )
    check_column_settings(
        frame,
        source,
        target=target,
        timestamp_column=timestamp_column or "",
        id_columns=id_columns,
        exclude_columns=exclude_columns,
    )
    specs = []
    for name in frame.columns:
        series = frame[name]
        if name == target:
            specs.append(_target_spec(series, source))
        elif name == timestamp_column:
            specs.append(
                ColumnSpec(
                    str(name),
                    "timestamp",
                    "datetime",
                    1.0,
                    reason="MLOPS_TIMESTAMP_COLUMN: orders the split in time",
                )
            )
        elif name in exclude_columns:
            specs.append(
                ColumnSpec(str(name), "excluded", _kind_of(series), reason="MLOPS_EXCLUDE_COLUMNS")
            )
        elif name in id_columns:
            specs.append(ColumnSpec(str(name), "id", _kind_of(series), reason="MLOPS_ID_COLUMNS"))
        else:
            try:
                spec, problem = _feature_spec(str(name), series)
            # An unforeseen value type fails inference naming the column, not with a traceback.
            except Exception as error:
                spec, problem = (
                    ColumnSpec(str(name), "ignored", "text"),
                    {
                        "value": f"{type(error).__name__}: {error}",
                        "check": "cannot infer its kind: add it to MLOPS_EXCLUDE_COLUMNS or fix "
                        "its values",
                    },
                )
            specs.append(spec)
            if problem:
                problems.append({"column": name, **problem})
    if problems:
        cases = pd.DataFrame(
            [{"source": source, "row": None, **p} for p in problems], columns=FAILURE_COLUMNS
        )
        raise DataValidationError(failure_message(source, cases, "cannot infer a schema"), cases)
    task = infer_task(frame[target])
    classes = None
    if task != "regression":
        classes = tuple(sorted(label_strings(frame[target]).dropna().unique()))
        if len(classes) < 2:
            raise DataValidationError(
                f"{source}: target column {target!r} has a single class {classes}; a classifier "
                "needs at least two. Check the target column (MLOPS_TARGET_COLUMN) or the data.",
                failure_cases_table(
                    source, [(target, None, classes[0] if classes else None, "two_classes")]
                ),
            )
    if not any(s.role == "feature" for s in specs):
        raise DataValidationError(
            f"{source}: no usable feature columns besides {target!r} (roles: "
            + "; ".join(f"{s.name} {s.role}" for s in specs)
            + "). Check MLOPS_ID_COLUMNS / MLOPS_EXCLUDE_COLUMNS and the data."
        )
    # The delivered type of each feature is part of the contract from now on (input_contract).
    specs = [
        dataclasses.replace(s, input_type=input_type_of(frame[s.name]))
        if s.role == "feature"
        else s
        for s in specs
    ]
    schema = DatasetSchema(tuple(specs), target, task, classes, timestamp_column or None)
    return learn_expectations(schema, frame, range_margin)


def learn_expectations(
    schema: DatasetSchema, frame: pd.DataFrame, range_margin: float = 0.5
) -> DatasetSchema:
    """The same contract with expectations (ranges, categories, null shares) learned from
    `frame`, a training window: what the model trained on it will consider normal."""
    columns = []
    for spec in schema.columns:
        if spec.role == "feature" and spec.name in frame.columns:
            spec = _expectations(spec, frame[spec.name], range_margin)
        columns.append(spec)
    return dataclasses.replace(schema, columns=tuple(columns), format=SCHEMA_FORMAT)


def _expectations(spec: ColumnSpec, series: pd.Series, range_margin: float) -> ColumnSpec:
    import numpy as np
    import pandas as pd

    null_share = round(float(series.isna().mean()), 6) if len(series) else 0.0
    if spec.kind == "numeric":
        values = pd.to_numeric(series, errors="coerce").astype(float).to_numpy()
        finite = values[np.isfinite(values)]
        if not len(finite):
            return dataclasses.replace(spec, null_share=null_share)
        low, high = float(finite.min()), float(finite.max())
        pad = range_margin * ((high - low) or max(abs(low), 1.0))
        return dataclasses.replace(
            spec, min_value=low - pad, max_value=high + pad, null_share=null_share
        )
    counts = label_strings(series).dropna().value_counts()
    capped = len(counts) > MAX_CATEGORIES
    # Most frequent first, ties by value, so equal data gives an equal schema.
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_CATEGORIES]
    return dataclasses.replace(
        spec,
        categories=tuple(sorted(str(v) for v, _ in ordered)),
        other_categories=capped,
        null_share=null_share,
    )


def _kind_of(series: pd.Series) -> Kind:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    if is_number_column(series):
        return "numeric"
    return "categorical"


def _target_spec(series: pd.Series, source: str) -> ColumnSpec:
    if series.isna().all():
        raise DataValidationError(
            f"{source}: target column {series.name!r} is empty (all values missing).",
            failure_cases_table(source, [(str(series.name), None, None, "target_present")]),
        )
    kind: Kind = "numeric" if is_number_column(series) else "categorical"
    return ColumnSpec(str(series.name), "target", kind, 1.0, reason="MLOPS_TARGET_COLUMN")


def _feature_spec(name: str, series: pd.Series) -> tuple[ColumnSpec, dict[str, object] | None]:
    """The role and kind of a column that is not the target, timestamp or configured, with the
    reason. Expectations are added by `learn_expectations`."""
    import numpy as np
    import pandas as pd

    null_share = float(series.isna().mean())
    if null_share == 1.0:
        return ColumnSpec(name, "ignored", "text"), {
            "value": None,
            "check": "all values missing: fix the source or add it to MLOPS_EXCLUDE_COLUMNS",
        }
    # Room for day-to-day variation, but never "anything goes": an all-missing column fails.
    budget = min(0.99, null_share + max(0.05, null_share))
    rows = len(series)
    present = series.dropna()
    if pd.api.types.is_datetime64_any_dtype(series):
        return ColumnSpec(name, "ignored", "datetime", 1.0, reason=_DATE_REASON), None
    if series.nunique(dropna=False) == 1:
        return ColumnSpec(
            name,
            "ignored",
            _kind_of(series),
            1.0,
            reason=f"constant: {present.iloc[0]!r} on every row, carries no information",
        ), None
    unique_per_row = rows >= MIN_ROWS_FOR_ROLES and null_share == 0 and present.is_unique
    if is_number_column(series):
        integers = pd.api.types.is_integer_dtype(series)
        # A unique integer that rises with the rows, or numbers its rows densely (1..n with
        # gaps), is a counter. A unique integer spread thinly over a wide range (incomes in
        # whole units on a small table) is a measurement: kept as a feature.
        rising = bool(present.is_monotonic_increasing)
        dense = bool(len(present)) and float(present.max() - present.min()) < 1.1 * rows
        if unique_per_row and integers and (rising or dense):
            why = "rises with the row order" if rising else "numbers the rows densely"
            reason = f"integer that {why}, {ID_REASON}"
            return ColumnSpec(name, "id", "numeric", reason=reason), None
        values = series.astype(float).to_numpy()
        if not np.isfinite(values[~np.isnan(values)]).any():
            return ColumnSpec(name, "ignored", "numeric"), {
                "value": "inf",
                "check": "no finite values: fix the source or add it to MLOPS_EXCLUDE_COLUMNS",
            }
        reason = f"numbers ({series.dtype}): a feature"
        return ColumnSpec(name, "feature", "numeric", budget, reason=reason), None
    text = present.astype(str)
    sample = text.head(200)
    if len(sample) and sample.str.match(_ISO_DATE).all():
        return ColumnSpec(name, "ignored", "datetime", 1.0, reason=_DATE_REASON), None
    distinct = text.nunique()
    if not isinstance(series.dtype, pd.CategoricalDtype) and distinct > MAX_CATEGORIES:
        # Many distinct numbers with a few words among them is a numeric column with malformed
        # values (a CSV export's "n/a", "-"). Few distinct values are codes ('0', '1', '10',
        # census-style, '?' for unknown included): a category, whatever they look like.
        is_number = text.str.match(PLAIN_NUMBER)
        bad = text[~is_number]
        if is_number.mean() >= 0.95 and len(bad):
            return ColumnSpec(name, "feature", "numeric"), {
                "row": _position(series.index, bad.index[0]),
                "value": bad.iloc[0],
                "check": (
                    f"mostly numbers but {len(bad)} text values: fix them at the source, or "
                    "add the column to MLOPS_EXCLUDE_COLUMNS"
                ),
            }
    if rows >= MIN_ROWS_FOR_ROLES and distinct > 0.9 * len(text):
        # An id is a code; unique sentences are free text.
        if unique_per_row and text.str.contains(r"\s").mean() <= 0.5:
            return ColumnSpec(name, "id", "text", reason=f"text, {ID_REASON}"), None
        # One category per row generalises to nothing.
        reason = (
            f"free text: {distinct} distinct values in {len(text)} rows; ignored (derive "
            "features from it upstream if it matters)"
        )
        return ColumnSpec(name, "ignored", "text", 1.0, reason=reason), None
    if distinct > MAX_CATEGORIES:
        reason = (
            f"categories ({distinct} values): a feature; the {MAX_CATEGORIES} most frequent are "
            "kept, the rest encoded as 'other'"
        )
    else:
        reason = f"categories ({distinct} values): a feature"
    return ColumnSpec(name, "feature", "categorical", budget, reason=reason), None


def _position(index: pd.Index, label: object) -> int:
    """The 0-based row of `label`; a label on several rows has no single row."""
    import numpy as np

    location = index.get_loc(label)
    if not isinstance(location, int | np.integer):
        raise TypeError(f"index label {label!r} is on several rows")
    return int(location)


_DATE_REASON = (
    "dates: not a feature (every new day is an unseen value); set MLOPS_TIMESTAMP_COLUMN to it "
    "for a time-ordered split"
)
