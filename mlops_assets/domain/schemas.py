"""What a training table must look like: a schema inferred from the first data (or given by the
user), stored as versioned JSON, and checked with pandera.

A schema has two parts, treated differently:

- the **contract**: the columns and their roles (feature, target, timestamp, id, excluded,
  ignored), their kinds, the target's classes and the null budgets of the features. A table that
  breaks it column-wise (a column missing or of the wrong type, too many nulls, a target with one
  class) is unusable: `validate` raises `DataValidationError`. Rows that break it (an infinity,
  text in a numeric column, a missing or unknown label, an exact duplicate of a row with the same
  ids) are quarantined and the rest is used, up to a tolerated share.
- the **expectations**, learned from a training window: value ranges, category sets, null
  shares. They describe the reference, nothing more: a value outside them is counted and
  reported (it is drift evidence, and exactly what a retraining must learn), never quarantined.
  `learn_expectations` re-learns them from each training window.

Every failure is a row of a failure-cases table: source, column, row (0-based position in the
table), value and the check that failed, so the UI can show exactly what to fix.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

TaskType = Literal["binary", "multiclass", "regression"]
Role = Literal["feature", "target", "timestamp", "id", "excluded", "ignored"]
Kind = Literal["numeric", "categorical", "datetime", "text"]

FAILURE_COLUMNS = ["source", "column", "row", "value", "check"]
EXPECTATION_COLUMNS = ["column", "expectation", "rows"]
SCHEMA_FORMAT = 2
# Format 1 (before contract and expectations were told apart) is read, and upgraded on load.
_READABLE_FORMATS = (1, 2)
# A numeric target with at most this many distinct integer values is a class label.
MAX_CLASSES = 20
# Categories listed in the expectations: the most frequent ones, the rest count as "other". The
# same cap as the pipeline's OneHotEncoder(max_categories=50), so the schema describes what the
# model distinguishes.
MAX_CATEGORIES = 50
# Below this many rows, "unique on every row" or "mostly distinct" says nothing about a column.
MIN_ROWS_FOR_ROLES = 50
# A timestamp column must parse as dates for at least this share of its non-missing values.
MIN_DATE_SHARE = 0.99
# A null share above the expected one by more than this is reported (not an error).
NULL_SHARE_SLACK = 0.02
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")
_PLAIN_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")

ID_REASON = "unique per row: treated as an id; set MLOPS_ID_COLUMNS to confirm"


class DataValidationError(ValueError):
    """The table cannot be used as is. `failure_cases` says where and why, row by row."""

    def __init__(self, message: str, failure_cases: pd.DataFrame | None = None) -> None:
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
    def id_columns(self) -> list[str]:
        """Row identifiers: never features, never drift-tested, kept for joins and lineage."""
        return self._named("id")

    @property
    def excluded_columns(self) -> list[str]:
        """Columns the user excluded (MLOPS_EXCLUDE_COLUMNS): never read as features."""
        return self._named("excluded")

    def roles_table(self) -> pd.DataFrame:
        """column, role, kind, reason: one row per column, for the metadata and the model card."""
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


@dataclass(frozen=True)
class ValidationResult:
    valid: pd.DataFrame
    """The rows that passed, with the schema's columns only (excluded columns dropped)."""
    quarantined: pd.DataFrame
    failure_cases: pd.DataFrame
    quarantined_share: float
    extra_columns: tuple[str, ...] = ()
    """Columns of the table the schema does not know: dropped from `valid`."""
    outside_expectations: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=EXPECTATION_COLUMNS)
    )
    """column, expectation, rows: valid rows outside a learned expectation (reported only)."""
    rows_outside_expectations: int = 0
    """Valid rows with at least one value outside the expectations."""
    duplicate_rows: int = 0
    """Rows repeating an earlier row's features and target, kept (distinct ids, or no ids)."""


def label_strings(values: pd.Series) -> pd.Series:
    """Class labels as strings, so 1, 1.0 (an int column read with NaNs) and "1" agree.

    Missing values stay missing.
    """
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
    present = target.dropna()
    if pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present):
        numbers = present.astype(float)
        fractional = bool(np.any(np.mod(numbers[np.isfinite(numbers)], 1) != 0))
        if fractional or numbers.nunique() > MAX_CLASSES:
            return "regression"
    return "binary" if present.nunique() <= 2 else "multiclass"


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
            _cases(source, [(n, None, v, "column_in_dataframe") for v, n in problems]),
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
                _cases(source, [(clash[0], None, variable, "role_conflict")]),
            )
    both = sorted(set(id_columns) & set(exclude_columns))
    if both:
        raise DataValidationError(
            f"{source}: column {both[0]!r} is in both MLOPS_ID_COLUMNS and MLOPS_EXCLUDE_COLUMNS; "
            "keep it in one of them.",
            _cases(source, [(both[0], None, None, "role_conflict")]),
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
                _cases(source, [(timestamp_column, None, repr(sample), "timestamp_is_dates")]),
            )


def timestamp_problem(series: pd.Series) -> str | None:
    """Why `series` is not a usable timestamp, or None. Datetime columns pass; text passes when
    at least MIN_DATE_SHARE of its non-missing values parse as dates. Numbers are refused:
    pandas would read them as nanoseconds since 1970, a "date" that means nothing."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return None if series.notna().any() else "every value is missing"
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return f"it is a {series.dtype} column of plain numbers, not dates"
    present = series.dropna().astype(str)
    if not len(present):
        return "every value is missing"
    # A sample bounds the cost on large tables; parsing is element-wise for mixed formats.
    sample = present.sample(n=min(len(present), 5000), random_state=0)
    numbers = sample.str.match(_PLAIN_NUMBER)
    parsed = pd.to_datetime(sample.where(~numbers), errors="coerce", format="mixed")
    share = float(parsed.notna().mean())
    if share < MIN_DATE_SHARE:
        return (
            f"only {share:.1%} of its non-missing values parse as dates "
            f"(at least {MIN_DATE_SHARE:.0%} needed)"
        )
    return None


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
    problems: list[dict[str, object]] = []
    if target not in frame.columns:
        raise DataValidationError(
            f"{source}: target column {target!r} is missing "
            f"(columns: {', '.join(map(str, frame.columns))}). Set MLOPS_TARGET_COLUMN to the "
            "column to predict.",
            _cases(source, [(target, None, None, "column_in_dataframe")]),
        )
    if timestamp_column and timestamp_column not in frame.columns:
        raise DataValidationError(
            f"{source}: timestamp column {timestamp_column!r} is missing.",
            _cases(source, [(timestamp_column, None, None, "column_in_dataframe")]),
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
        raise DataValidationError(_message(source, cases, "cannot infer a schema"), cases)
    task = infer_task(frame[target])
    classes = None
    if task != "regression":
        classes = tuple(sorted(label_strings(frame[target]).dropna().unique()))
        if len(classes) < 2:
            raise DataValidationError(
                f"{source}: target column {target!r} has a single class {classes}; a classifier "
                "needs at least two. Check the target column (MLOPS_TARGET_COLUMN) or the data.",
                _cases(source, [(target, None, classes[0] if classes else None, "two_classes")]),
            )
    if not any(s.role == "feature" for s in specs):
        raise DataValidationError(
            f"{source}: no usable feature columns besides {target!r} (roles: "
            + "; ".join(f"{s.name} {s.role}" for s in specs)
            + "). Check MLOPS_ID_COLUMNS / MLOPS_EXCLUDE_COLUMNS and the data."
        )
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
        categories=tuple(sorted(v for v, _ in ordered)),
        other_categories=capped,
        null_share=null_share,
    )


def _kind_of(series: pd.Series) -> Kind:
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    if _is_number_column(series):
        return "numeric"
    return "categorical"


def _target_spec(series: pd.Series, source: str) -> ColumnSpec:
    if series.isna().all():
        raise DataValidationError(
            f"{source}: target column {series.name!r} is empty (all values missing).",
            _cases(source, [(str(series.name), None, None, "target_present")]),
        )
    kind: Kind = "numeric" if _is_number_column(series) else "categorical"
    return ColumnSpec(str(series.name), "target", kind, 1.0, reason="MLOPS_TARGET_COLUMN")


def _feature_spec(name: str, series: pd.Series) -> tuple[ColumnSpec, dict[str, object] | None]:
    """The role and kind of a column that is not the target, timestamp or configured, with the
    reason. Expectations are added by `learn_expectations`."""
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
    if _is_number_column(series):
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
        is_number = text.str.match(_PLAIN_NUMBER)
        bad = text[~is_number]
        if is_number.mean() >= 0.95 and len(bad):
            return ColumnSpec(name, "feature", "numeric"), {
                "row": int(series.index.get_loc(bad.index[0])),
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


_DATE_REASON = (
    "dates: not a feature (every new day is an unseen value); set MLOPS_TIMESTAMP_COLUMN to it "
    "for a time-ordered split"
)


def to_pandera(schema: DatasetSchema, require_target: bool = True):
    """The pandera DataFrameSchema of the contract: the columns the model needs (features,
    target), the timestamp and the ids, with their types, finiteness, null budgets and the
    target's classes. Expectations (ranges, category sets) are not checked here.

    Required columns absent from the table are reported by the `column_in_dataframe` check;
    ignored and excluded columns are not checked at all.
    """
    import pandera.pandas as pa

    checked: dict[str, pa.Column] = {}
    for spec in schema.columns:
        if spec.role in ("ignored", "excluded") or (spec.role == "target" and not require_target):
            continue
        if spec.role in ("timestamp", "id"):
            checked[spec.name] = pa.Column(nullable=True, required=True)
            continue
        checks = []
        if spec.role == "feature":
            checks.append(_null_budget_check(spec.max_null_fraction))
        if spec.kind == "numeric":
            checks.append(
                pa.Check(lambda s: np.isfinite(s.astype(float)), name="finite", ignore_na=True)
            )
        if spec.role == "target" and schema.classes is not None:
            allowed_set = set(schema.classes)
            checks.append(
                pa.Check(
                    lambda s, allowed=allowed_set: label_strings(s).isin(allowed),
                    name=f"isin({len(allowed_set)} known classes)",
                )
            )
        checked[spec.name] = pa.Column(
            float if spec.kind == "numeric" and spec.role == "feature" else None,
            checks=checks,
            nullable=spec.role != "target",
            coerce=spec.kind == "numeric" and spec.role == "feature",
            required=True,
        )
    return pa.DataFrameSchema(checked, strict=False)


def _null_budget_check(budget: float):
    import pandera.pandas as pa

    return pa.Check(
        lambda s: float(s.isna().mean()) <= budget,
        element_wise=False,
        ignore_na=False,
        name=f"null_fraction<={budget:.2f}",
    )


# Failures that make the whole column unusable rather than a few rows.
_COLUMN_LEVEL_CHECKS = ("column_in_dataframe", "coerce_dtype", "dtype", "null_fraction")


def validate(
    frame: pd.DataFrame,
    schema: DatasetSchema,
    source: str,
    tolerated_quarantine_share: float = 0.05,
    require_target: bool = True,
) -> ValidationResult:
    """Check `frame` against the schema's contract: raise on column-level failures, quarantine
    the rows that break it. Values outside the expectations are counted, never quarantined.

    Duplicates: with id columns, a row repeating an earlier row exactly (ids included) is
    quarantined; rows that repeat features and target under other ids are distinct records
    (two passengers alike) and only counted, as are exact repeats when there are no ids (nothing
    tells a repeated record from two alike).

    Raises DataValidationError (with failure cases) when the table is unusable, or when more
    than `tolerated_quarantine_share` of the rows would be quarantined.
    """
    import pandera.pandas as pa

    frame = frame.reset_index(drop=True)
    pandera_schema = to_pandera(schema, require_target)
    try:
        pandera_schema.validate(frame, lazy=True)
        raw = pd.DataFrame(columns=["column", "check", "failure_case", "index"])
    except pa.errors.SchemaErrors as errors:
        raw = errors.failure_cases
    cases = pd.DataFrame(
        {
            "source": source,
            "column": raw["column"].astype(object),
            "row": raw["index"].astype(object),
            "value": raw["failure_case"].astype(object),
            "check": raw["check"].astype(str),
        },
        columns=FAILURE_COLUMNS,
    )
    # pandera reports a column missing from the frame with the column's name as the value.
    missing = cases["check"] == "column_in_dataframe"
    cases.loc[missing, "column"] = cases.loc[missing, "value"]
    column_level = cases["row"].isna() | cases["check"].str.startswith(_COLUMN_LEVEL_CHECKS)
    if column_level.any():
        raise DataValidationError(
            _message(source, _column_failures(cases, frame), "does not match its schema"),
            _column_failures(cases, frame),
        )

    exact, alike = _duplicates(frame, schema, require_target)
    if len(exact):
        ids = schema.id_columns
        cases = pd.concat(
            [
                cases if len(cases) else None,
                pd.DataFrame(
                    {
                        "source": source,
                        "column": ", ".join(ids),
                        "row": exact.astype(object),
                        "value": [
                            ", ".join(f"{c}={v}" for c, v in zip(ids, row, strict=True))
                            for row in frame.loc[exact, ids].astype(str).to_numpy()
                        ],
                        "check": "duplicate_row (same ids and values)",
                    },
                    columns=FAILURE_COLUMNS,
                ),
            ],
            ignore_index=True,
        )
    failing_rows = pd.Index(cases["row"].dropna().astype(int).unique())
    quarantined = frame.loc[failing_rows].copy()
    reasons = cases.groupby("row")["check"].agg(lambda c: "; ".join(sorted(set(c))))
    quarantined["quarantine_reason"] = [reasons.get(i, "") for i in failing_rows]
    kept = {c.name for c in schema.columns if c.role != "excluded"}
    known = {c.name for c in schema.columns}
    extra = tuple(str(c) for c in frame.columns if c not in known)
    valid = frame.drop(index=failing_rows)[[c for c in frame.columns if c in kept]]
    for name in schema.numeric_features:
        valid[name] = valid[name].astype(float)
    share = len(failing_rows) / len(frame) if len(frame) else 0.0

    if require_target and schema.classes is not None and len(valid):
        present = label_strings(valid[schema.target]).nunique()
        if present < 2:
            only = label_strings(valid[schema.target]).dropna().unique().tolist()
            raise DataValidationError(
                f"{source}: target column {schema.target!r} has only the class {only} after "
                "validation; a classifier needs at least two classes. Check the target column "
                "(MLOPS_TARGET_COLUMN) and deliver data with every class.",
                _cases(source, [(schema.target, None, only[0] if only else None, "two_classes")]),
            )
    if not len(valid):
        raise DataValidationError(_message(source, cases, "has no valid rows"), cases)
    if share > tolerated_quarantine_share:
        raise DataValidationError(
            _message(
                source,
                cases,
                f"has {share:.1%} failing rows, above the tolerated "
                f"{tolerated_quarantine_share:.1%}",
            ),
            cases,
        )
    valid = valid.reset_index(drop=True)
    outside, rows_outside = check_expectations(valid, schema)
    return ValidationResult(
        valid,
        quarantined,
        cases,
        share,
        extra,
        outside_expectations=outside,
        rows_outside_expectations=rows_outside,
        duplicate_rows=int(alike.sum()),
    )


def _duplicates(
    frame: pd.DataFrame, schema: DatasetSchema, require_target: bool
) -> tuple[pd.Index, pd.Series]:
    """(rows to quarantine, mask of rows only counted): see `validate`."""
    values = [
        c.name
        for c in schema.columns
        if c.role in ("feature", "timestamp") or (c.role == "target" and require_target)
    ]
    values = [c for c in values if c in frame.columns]
    ids = [c for c in schema.id_columns if c in frame.columns]
    if not values or not len(frame):
        return pd.Index([], dtype=int), pd.Series(False, index=frame.index)
    exact = frame.duplicated(subset=[*ids, *values], keep="first") if ids else None
    alike = frame.duplicated(subset=values, keep="first")
    if exact is None:
        return pd.Index([], dtype=int), alike
    return frame.index[exact], alike & ~exact


def check_expectations(frame: pd.DataFrame, schema: DatasetSchema) -> tuple[pd.DataFrame, int]:
    """Rows outside the learned expectations, per column and expectation (column, expectation,
    rows), and how many rows have at least one such value. Reported, never an error: at
    training they show what changed since the expectations were learned; at scoring they are
    drift evidence."""
    rows: list[tuple[str, str, int]] = []
    outside = np.zeros(len(frame), dtype=bool)
    for spec in schema.columns:
        if spec.role != "feature" or spec.name not in frame.columns:
            continue
        column = frame[spec.name]
        if spec.kind == "numeric" and spec.min_value is not None and spec.max_value is not None:
            values = pd.to_numeric(column, errors="coerce").astype(float)
            mask = ((values < spec.min_value) | (values > spec.max_value)).to_numpy()
            expectation = f"in_range [{spec.min_value:.6g}, {spec.max_value:.6g}]"
        elif (
            spec.kind == "categorical" and spec.categories is not None and not spec.other_categories
        ):
            strings = label_strings(column)
            mask = (strings.notna() & ~strings.isin(set(spec.categories))).to_numpy()
            expectation = f"isin({len(spec.categories)} known categories)"
        else:
            mask = np.zeros(len(frame), dtype=bool)
            expectation = ""
        if mask.any():
            rows.append((spec.name, expectation, int(mask.sum())))
            outside |= mask
        if spec.null_share is not None and len(column):
            nulls = column.isna()
            if float(nulls.mean()) > spec.null_share + NULL_SHARE_SLACK:
                rows.append(
                    (
                        spec.name,
                        f"null share <= {spec.null_share + NULL_SHARE_SLACK:.2f}",
                        int(nulls.sum()),
                    )
                )
    return pd.DataFrame(rows, columns=EXPECTATION_COLUMNS), int(outside.sum())


def _column_failures(cases: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """The column-level failures, readable: a column that cannot be coerced to numbers is
    reported by its text values only (pandera also reports every other check of that column,
    and the dtype check, as exceptions), and a null budget failure shows the null share."""
    uncoercible = set(cases.loc[cases["check"].str.startswith("coerce_dtype"), "column"])
    keep = cases["row"].isna() | cases["check"].str.startswith(_COLUMN_LEVEL_CHECKS)
    keep &= ~cases["column"].isin(uncoercible) | cases["check"].str.startswith("coerce_dtype")
    shown = cases[keep].copy()
    budget = shown["check"].str.startswith("null_fraction")
    shown.loc[budget, "value"] = [
        f"null share {frame[c].isna().mean():.2f}" for c in shown.loc[budget, "column"]
    ]
    return shown.reset_index(drop=True)


def summarize_failures(failure_cases: pd.DataFrame, limit: int = 5) -> str:
    """One line per (column, check): how many failures and the first rows and values."""
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
        parts.append(f"column {column!r}: {check} failed {len(group)}x (e.g. {examples})")
    more = f"; and {len(parts) - limit} more" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more


def _message(source: str, cases: pd.DataFrame, what: str) -> str:
    return (
        f"{source} {what}: {summarize_failures(cases)}. Fix the data at the source; if the "
        "data legitimately changed, re-infer the schema (validated_data config "
        "reinfer_schema: true) or give one with schema_path."
    )


def _cases(source: str, rows: list[tuple[str, int | None, object, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"source": source, "column": c, "row": r, "value": v, "check": k} for c, r, v, k in rows],
        columns=FAILURE_COLUMNS,
    )


@dataclass(frozen=True)
class SchemaDiff:
    """How a candidate's features differ from the champion's."""

    missing: tuple[str, ...]
    """Champion features the candidate data lacks: the champion cannot score it."""
    extra: tuple[str, ...]
    retyped: tuple[str, ...]
    target_changed: bool = False

    @property
    def compatible(self) -> bool:
        return not (self.missing or self.retyped or self.target_changed)

    def __str__(self) -> str:
        if not (self.missing or self.extra or self.retyped or self.target_changed):
            return "same features"
        parts = []
        if self.target_changed:
            parts.append("target or task changed")
        for label, names in (
            ("missing", self.missing),
            ("extra", self.extra),
            ("retyped", self.retyped),
        ):
            if names:
                parts.append(f"{label}: {', '.join(names)}")
        return "; ".join(parts)


def compare_schemas(champion: DatasetSchema, candidate: DatasetSchema) -> SchemaDiff:
    old = {c.name: c.kind for c in champion.columns if c.role == "feature"}
    new = {c.name: c.kind for c in candidate.columns if c.role == "feature"}
    return SchemaDiff(
        missing=tuple(sorted(set(old) - set(new))),
        extra=tuple(sorted(set(new) - set(old))),
        retyped=tuple(sorted(n for n in set(old) & set(new) if old[n] != new[n])),
        target_changed=(champion.target, champion.task) != (candidate.target, candidate.task),
    )


def check_scoring_frame(frame: pd.DataFrame, schema: DatasetSchema, source: str) -> list[str]:
    """Can the model score this batch? Missing or retyped feature columns raise; unseen
    categories are fine (the encoder ignores them). Returns the extra columns, which are
    ignored."""
    known = {c.name for c in schema.columns}
    problems = []
    for name in schema.feature_columns:
        if name not in frame.columns:
            problems.append((name, None, None, "column_in_dataframe"))
            continue
        dtype = frame[name].dtype
        numeric = pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        textual = isinstance(dtype, pd.StringDtype) or (
            pd.api.types.is_object_dtype(dtype)
            and frame[name].map(lambda v: isinstance(v, str)).any()
        )
        expected = schema.column(name).kind
        if expected == "numeric" and textual:
            problems.append((name, None, str(dtype), "dtype: expected numeric"))
        elif expected == "categorical" and numeric and not pd.api.types.is_bool_dtype(dtype):
            problems.append((name, None, str(dtype), "dtype: expected text categories"))
    if problems:
        cases = _cases(source, problems)
        raise DataValidationError(
            f"{source} cannot be scored by this model: {summarize_failures(cases)}. Deliver the "
            "columns the model was trained on, with the same types.",
            cases,
        )
    return sorted(str(c) for c in frame.columns if c not in known)


@dataclass(frozen=True)
class ScoringBatchReport:
    """What a scoreable batch still deserves a look for (nothing here stops scoring)."""

    rows: int
    extra_columns: tuple[str, ...]
    """Columns the model does not use: ignored."""
    unseen_categories: pd.DataFrame
    """column, value, rows: category values training never saw (encoded as all-zeros)."""
    null_shares_above_budget: dict[str, float]
    """Features with more missing values than training tolerated (imputed, but worth a look)."""
    outside_expectations: pd.DataFrame
    """column, expectation, rows: values beyond the learned ranges or category sets (scored:
    they are drift evidence, not errors)."""
    rows_outside_expectations: int


# Rows listed per failing column in the failure-cases table: enough to find the pattern.
_ROWS_SHOWN = 20


def check_scoring_batch(
    frame: pd.DataFrame, schema: DatasetSchema, source: str
) -> ScoringBatchReport:
    """Can the model score this day's batch? The rules, and why:

    | problem | outcome |
    | --- | --- |
    | a feature column missing | fail: the model cannot run without it |
    | text in a numeric feature | fail, rows named: a value cannot be guessed |
    | numbers in a categorical feature | fail: the encoding would silently differ |
    | a feature with every value missing | fail: a column delivered empty is an incident |
    | an infinity in a numeric feature | fail, rows named: no imputation or scaling is defined |
    | unseen category | scored (one-hot encodes it as all-zeros) and reported |
    | a value outside the training range | scored: drift evidence, reported by drift_report |
    | extra column | ignored and reported |
    | more missing values than in training | scored (imputed) and reported |

    Raises DataValidationError whose failure cases name the column, the rows (0-based
    positions in the file) and the values.
    """
    problems: list[tuple[str, int | None, object, str]] = []
    null_shares: dict[str, float] = {}
    unseen: list[dict[str, object]] = []
    for name in schema.feature_columns:
        if name not in frame.columns:
            problems.append((name, None, None, "column_in_dataframe"))
            continue
        spec = schema.column(name)
        column = frame[name]
        share = float(column.isna().mean()) if len(column) else 0.0
        if len(column) and share == 1.0:
            problems.append((name, None, f"all {len(column)} values missing", "not_all_missing"))
            continue
        if share > spec.max_null_fraction:
            null_shares[name] = share
        if spec.kind == "numeric":
            problems += _numeric_problems(name, column)
        elif _is_number_column(column):
            problems.append((name, None, str(column.dtype), "dtype: expected text categories"))
        elif spec.categories is not None and not spec.other_categories:
            known = set(spec.categories)
            values = label_strings(column).dropna()
            counts = values[~values.isin(known)].value_counts()
            unseen += [{"column": name, "value": v, "rows": int(n)} for v, n in counts.items()]
    if problems:
        cases = _cases(source, problems)
        raise DataValidationError(
            f"{source} cannot be scored: {summarize_failures(cases)}. Fix the day's file (the "
            "model needs the columns it was trained on, with the same types) and re-run the "
            "partition.",
            cases,
        )
    known_columns = {c.name for c in schema.columns}
    outside, outside_rows = check_expectations(frame, schema)
    return ScoringBatchReport(
        rows=len(frame),
        extra_columns=tuple(sorted(str(c) for c in frame.columns if c not in known_columns)),
        unseen_categories=pd.DataFrame(unseen, columns=["column", "value", "rows"]),
        null_shares_above_budget=null_shares,
        outside_expectations=outside,
        rows_outside_expectations=outside_rows,
    )


def _is_number_column(column: pd.Series) -> bool:
    dtype = column.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _numeric_problems(name: str, column: pd.Series) -> list[tuple[str, int | None, object, str]]:
    positions = np.arange(len(column))
    if _is_number_column(column):
        values = column.astype(float).to_numpy()
        infinite = positions[np.isinf(values)]
        return [(name, int(i), float(values[i]), "finite") for i in infinite[:_ROWS_SHOWN]]
    numbers = pd.to_numeric(column, errors="coerce")
    text = positions[(numbers.isna() & column.notna()).to_numpy()]
    if not len(text):  # numbers stored as text: the model would see strings
        return [(name, None, str(column.dtype), "dtype: expected numeric")]
    return [(name, int(i), column.iloc[i], "dtype: expected numeric") for i in text[:_ROWS_SHOWN]]
