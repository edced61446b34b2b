"""The schema model: the column specs and the dataset schema with their versioned JSON, the
target's task (decided here, from the target's values), and the failure-cases table every check
reports in."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd


TaskType = Literal["binary", "multiclass", "regression"]
Role = Literal["feature", "target", "timestamp", "id", "excluded", "ignored"]
Kind = Literal["numeric", "categorical", "datetime", "text"]
# The type a source delivers a feature as, in MLflow's signature terms (input_contract.py).
InputType = Literal["boolean", "long", "double", "string", "datetime", "any"]

FAILURE_COLUMNS = ["source", "column", "row", "value", "check"]
SCHEMA_FORMAT = 2
# Format 1 (before contract and expectations were told apart) is read, and upgraded on load.
_READABLE_FORMATS = (1, 2)
# A numeric target with at most this many distinct integer values is a class label.
MAX_CLASSES = 20


class DataValidationError(ValueError):
    """The table cannot be used as is. `failure_cases` says where and why, row by row."""

    def __init__(self, message: str, failure_cases: pd.DataFrame | None = None) -> None:
        import pandas as pd

        super().__init__(message)
        self.failure_cases = (
            failure_cases if failure_cases is not None else pd.DataFrame(columns=FAILURE_COLUMNS)
        )


@dataclass(frozen=True)
class ColumnSpec:
    """One column. Contract: name, role, kind, max_null_fraction (the null budget of a feature).
    Expectations (learned, reported only): min_value/max_value, categories, null_share."""

    name: str
    role: Role
    kind: Kind
    max_null_fraction: float = 1.0
    min_value: float | None = None
    max_value: float | None = None
    categories: tuple[str, ...] | None = None
    reason: str = ""
    """Why the column has its role, for the metadata and the model card."""
    null_share: float | None = None
    """Share of missing values in the training window the expectations were learned from."""
    other_categories: bool = False
    """True when `categories` lists only the most frequent values: the rest count as "other"."""
    input_type: InputType | None = None
    """Contract: the type the first training's source delivered the feature as; every later
    training and scored day is conformed to it (None: a schema written before it existed)."""


@dataclass(frozen=True)
class DatasetSchema:
    columns: tuple[ColumnSpec, ...]
    target: str
    task: TaskType
    classes: tuple[str, ...] | None = None
    timestamp_column: str | None = None
    format: int = field(default=SCHEMA_FORMAT)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    def _named(self, role: Role) -> list[str]:
        return [c.name for c in self.columns if c.role == role]

    @property
    def numeric_features(self) -> list[str]:
        return [c.name for c in self.columns if c.role == "feature" and c.kind == "numeric"]

    @property
    def categorical_features(self) -> list[str]:
        return [c.name for c in self.columns if c.role == "feature" and c.kind == "categorical"]

    @property
    def feature_columns(self) -> list[str]:
        """The model's input columns: numeric first, then categorical (the Pipeline's order)."""
        return [*self.numeric_features, *self.categorical_features]

    @property
    def date_columns(self) -> list[str]:
        """Where a model's training window is read: the timestamp column, then the columns
        recognised as dates."""
        dated = [c.name for c in self.columns if c.kind == "datetime"]
        return [*([self.timestamp_column] if self.timestamp_column else []), *dated]

    @property
    def id_columns(self) -> list[str]:
        """Row identifiers: never features, never drift-tested, kept for joins and lineage."""
        return self._named("id")

    @property
    def excluded_columns(self) -> list[str]:
        """Columns the user excluded (MLOPS_EXCLUDE_COLUMNS): never read as features."""
        return self._named("excluded")

    def roles_table(self) -> pd.DataFrame:
        """column, role, kind, reason: one row per column, for the metadata and the model card."""
        import pandas as pd

        return pd.DataFrame(
            [(c.name, c.role, c.kind, c.reason) for c in self.columns],
            columns=["column", "role", "kind", "reason"],
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DatasetSchema:
        data = json.loads(text)
        if data.get("format") not in _READABLE_FORMATS:
            raise ValueError(
                f"unsupported schema format {data.get('format')!r} (this version reads "
                f"formats {', '.join(map(str, _READABLE_FORMATS))})"
            )
        columns = tuple(
            ColumnSpec(
                **{
                    **c,
                    "categories": None if c["categories"] is None else tuple(c["categories"]),
                }
            )
            for c in data.pop("columns")
        )
        classes = data.pop("classes")
        data["format"] = SCHEMA_FORMAT
        return cls(columns=columns, classes=None if classes is None else tuple(classes), **data)

    def fingerprint(self) -> str:
        """Short content hash: equal schemas have equal fingerprints, whatever the file name."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]


def label_strings(values: pd.Series) -> pd.Series:
    """Class labels as strings, so 1, 1.0 (an int column read with NaNs) and "1" agree.

    Missing values stay missing.
    """
    import numpy as np
    import pandas as pd

    present = values.dropna()
    if pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present):
        numbers = present.astype(float)
        if np.all(np.isfinite(numbers)) and np.all(np.mod(numbers, 1) == 0):
            return numbers.astype("int64").astype(str).reindex(values.index)
        return numbers.astype(str).reindex(values.index)
    return present.astype(str).reindex(values.index)


def infer_task(target: pd.Series) -> TaskType:
    """Regression for a numeric target with many or fractional values; otherwise the number of
    classes decides binary or multiclass."""
    import numpy as np
    import pandas as pd

    present = target.dropna()
    if pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present):
        numbers = present.astype(float)
        fractional = bool(np.any(np.mod(numbers[np.isfinite(numbers)], 1) != 0))
        if fractional or numbers.nunique() > MAX_CLASSES:
            return "regression"
    return "binary" if present.nunique() <= 2 else "multiclass"


def is_number_column(column: pd.Series) -> bool:
    import pandas as pd

    dtype = column.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def summarize_failures(failure_cases: pd.DataFrame, limit: int = 5) -> str:
    """One line per (column, check): how many failures and the first rows and values."""
    import pandas as pd

    if failure_cases.empty:
        return "no failures"
    parts = []
    for (column, check), group in failure_cases.groupby(["column", "check"], sort=False):
        if check == "column_in_dataframe":
            parts.append(f"column {column!r} is missing")
            continue
        examples = ", ".join(
            f"{v!r}" + (f" at row {int(r)}" if pd.notna(r) else "")
            for r, v in zip(group["row"].head(3), group["value"].head(3), strict=True)
        )
        # A table may list only the first rows of a check that failed on many (ROWS_TOTAL).
        total = failure_cases.attrs.get(ROWS_TOTAL, {}).get((column, check), len(group))
        listed = f"; {len(group)} listed" if total > len(group) else ""
        parts.append(f"column {column!r}: {check} failed {total}x (e.g. {examples}{listed})")
    more = f"; and {len(parts) - limit} more" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more


def failure_message(source: str, cases: pd.DataFrame, what: str) -> str:
    return (
        f"{source} {what}: {summarize_failures(cases)}. Fix the data at the source; if the "
        "data legitimately changed, re-infer the schema (validated_data config "
        "reinfer_schema: true) or give one with schema_path."
    )


def failure_cases_table(
    source: str,
    rows: list[tuple[str, int | None, object, str]],
    totals: dict[tuple[str, str], int] | None = None,
) -> pd.DataFrame:
    """The failure cases as a table. `totals`: how many rows failed each (column, check)
    when `rows` lists only the first of them; summarize_failures reports those counts."""
    import pandas as pd

    table = pd.DataFrame(
        [{"source": source, "column": c, "row": r, "value": v, "check": k} for c, r, v, k in rows],
        columns=FAILURE_COLUMNS,
    )
    if totals:
        table.attrs[ROWS_TOTAL] = dict(totals)
    return table


# The failure-cases table's attribute holding the true count of failing rows per
# (column, check), where it lists only the first of them.
ROWS_TOTAL = "rows_total"
