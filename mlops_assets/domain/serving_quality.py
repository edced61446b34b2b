"""What a scoreable request still deserves a flag for: a category training never saw, a missing
feature value, a column the model does not use. The service answers such rows (the model
ignores an unseen category, imputes a null, never reads an extra column) and says so per row,
in `/predict`'s answer and in a header of `/invocations` (whose body stays MLflow's), and
counts them by column. Pure: no Dagster, MLflow or HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import numpy as np
import pandas as pd

from mlops_assets.domain.schemas import DatasetSchema
from mlops_assets.domain.schemas.model import label_strings

if TYPE_CHECKING:
    from collections.abc import Sequence

# A JSON integer wider than 64 bits has no column type: pandas keeps it as a Python object that
# no float conversion takes. It is parsed into this marker, which `check_cells` names with its
# row and column. Python refuses to parse one over 4,300 digits at all, so the text's length
# is looked at first.
_INT_BITS = 63


@dataclass(frozen=True)
class OversizedInteger:
    digits: int


def parse_int(text: str) -> int | OversizedInteger:
    if len(text) <= 18:
        return int(text)
    digits = len(text.lstrip("-"))
    if digits > 20:
        return OversizedInteger(digits)
    value = int(text)
    return value if -(2**_INT_BITS) <= value < 2**_INT_BITS else OversizedInteger(digits)


# What a cell may hold: one value. Anything else (an object, a list, a 100-digit integer) is a
# 400 naming the row and the column, before any conversion can fail on it.
_CELL_TYPES = (str, int, float, Decimal, np.number, np.bool_, datetime)
_SCALAR_KINDS = frozenset(
    {"string", "empty", "floating", "integer", "mixed-integer", "mixed-integer-float", "boolean"}
    | {"decimal", "datetime", "date"}
)
_CELLS_NAMED = 5


def _cell_problem(value: Any) -> str | None:
    if value is None or isinstance(value, _CELL_TYPES):
        return None
    if isinstance(value, OversizedInteger):
        return f"an integer of {value.digits} digits (at most 64 bits)"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple | np.ndarray):
        return "a list"
    if value is pd.NA or value is pd.NaT:
        return None
    return f"a {type(value).__name__}"


def cell_problems(frame: pd.DataFrame, columns: Sequence[str]) -> str | None:
    """Why some cells of `columns` do not hold one value (text, a number, a boolean or
    nothing), naming the first rows (0-based positions) and columns; or duplicate column names.
    None when every cell holds one value."""
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        return f"the columns {', '.join(duplicated)} appear more than once"
    problems: list[str] = []
    for name in columns:
        if name not in frame.columns or frame[name].dtype != object:
            continue  # a typed column holds single values
        column = frame[name]
        if pd.api.types.infer_dtype(column, skipna=True) in _SCALAR_KINDS:
            continue
        for row, value in enumerate(column.tolist()):
            problem = _cell_problem(value)
            if problem is not None:
                problems.append(f"row {row}, column {name!r}: {problem}")
                if len(problems) == _CELLS_NAMED:
                    break
        if len(problems) == _CELLS_NAMED:
            break
    if not problems:
        return None
    return (
        f"cells that do not hold one value ({'; '.join(problems)}): send one number or text "
        "per cell"
    )


FlagKind = Literal["unseen_category", "null", "extra_column"]
UNSEEN_CATEGORY: FlagKind = "unseen_category"
NULL: FlagKind = "null"
EXTRA_COLUMN: FlagKind = "extra_column"

# A flagged value is shown, cut to this many characters (it came from the client).
_VALUE_CHARS = 80
# Header values stay small: a proxy may refuse a large header, and a row list is for a look.
HEADER_CHARS = 1024
HEADER_ROWS = 100


@dataclass(frozen=True)
class RowFlag:
    column: str
    kind: FlagKind
    value: str | None = None
    """The unseen category, cut to 80 characters; None for the other kinds."""

    def to_json(self) -> dict[str, str]:
        body = {"column": self.column, "kind": self.kind}
        if self.value is not None:
            body["value"] = self.value
        return body


@dataclass(frozen=True)
class DataQuality:
    """A request's flags: per flagged row (0-based position in the request) what was found, and
    per (column, kind) how many rows."""

    rows: int
    flags: dict[int, tuple[RowFlag, ...]]
    counts: dict[tuple[str, FlagKind], int]

    @property
    def clean(self) -> bool:
        return not self.flags

    def row_warnings(self) -> list[list[dict[str, str]]]:
        """Per row of the request, its flags as JSON (an empty list for a clean row)."""
        return [[f.to_json() for f in self.flags.get(row, ())] for row in range(self.rows)]

    def summary(self) -> dict[str, Any]:
        return {
            "rows_flagged": len(self.flags),
            "counts": [
                {"column": column, "kind": kind, "rows": rows}
                for (column, kind), rows in self.counts.items()
            ],
        }

    def header(self) -> str:
        """`column:kind=rows` items, comma-separated, column names percent-encoded (a header is
        Latin-1 text), cut at 1,024 characters with a closing `...`."""
        items = [
            f"{quote(column, safe='')}:{kind}={rows}"
            for (column, kind), rows in self.counts.items()
        ]
        return _cut(items)

    def rows_header(self) -> str:
        """The flagged rows' positions, the first 100, comma-separated (`...` when more)."""
        positions = sorted(self.flags)
        text = ",".join(str(p) for p in positions[:HEADER_ROWS])
        return text + (",..." if len(positions) > HEADER_ROWS else "")


def _cut(items: list[str]) -> str:
    text = ""
    for item in items:
        candidate = f"{text},{item}" if text else item
        if len(candidate) > HEADER_CHARS - 4:
            return f"{text},..." if text else "..."
        text = candidate
    return text


def assess_rows(
    frame: pd.DataFrame, features: pd.DataFrame, schema: DatasetSchema, extra: tuple[str, ...]
) -> DataQuality:
    """Flag each row of a request that passed the schema check (`prepare_rows`).

    `frame` is the request as parsed, `features` its features as the model takes them. A row is
    flagged for each feature it has no value for, each categorical value outside the categories
    training saw (when the schema lists them all: a schema that keeps only the frequent ones
    cannot tell an unseen value from a rare one), and each extra column it holds a value in.
    """
    checks: list[tuple[str, FlagKind, np.ndarray]] = []
    missing = features.isna().to_numpy()
    if missing.any():
        for index, name in enumerate(features.columns):
            if missing[:, index].any():
                checks.append((str(name), NULL, missing[:, index]))
    unseen_values: dict[str, pd.Series] = {}
    for name in schema.categorical_features:
        spec = schema.column(name)
        if spec.categories is None or spec.other_categories:
            continue
        values = label_strings(features[name])
        outside = (values.notna() & ~values.isin(spec.categories)).to_numpy()
        if outside.any():
            checks.append((name, UNSEEN_CATEGORY, outside))
            unseen_values[name] = values
    for name in extra:
        present = frame[name].notna().to_numpy()
        if present.any():
            checks.append((name, EXTRA_COLUMN, present))
    flags: dict[int, list[RowFlag]] = {}
    counts: dict[tuple[str, FlagKind], int] = {}
    for name, kind, mask in checks:
        positions = np.flatnonzero(mask)
        counts[(name, kind)] = len(positions)
        shown = unseen_values.get(name) if kind == UNSEEN_CATEGORY else None
        for row in positions.tolist():
            value = None if shown is None else str(shown.iloc[row])[:_VALUE_CHARS]
            flags.setdefault(row, []).append(RowFlag(name, kind, value))
    return DataQuality(
        rows=len(frame),
        flags={row: tuple(found) for row, found in sorted(flags.items())},
        counts=counts,
    )
