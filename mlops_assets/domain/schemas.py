"""What a training table must look like: a schema inferred from the first data (or given by the
user), stored as versioned JSON, and checked with pandera.

Two kinds of failure, treated differently:

- column-level (a column missing or of the wrong type, too many nulls, a target with one class):
  the table is unusable, so `validate` raises `DataValidationError` and nothing downstream runs;
- row-level (a value out of range, an unknown category, an infinity, a missing label, a
  duplicate row): the row is quarantined and the rest is used, up to a tolerated share.

Every failure is a row of a failure-cases table: source, column, row (0-based position in the
table), value and the check that failed, so the UI can show exactly what to fix.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

TaskType = Literal["binary", "multiclass", "regression"]
Role = Literal["feature", "target", "timestamp", "ignored"]
Kind = Literal["numeric", "categorical", "datetime", "text"]

FAILURE_COLUMNS = ["source", "column", "row", "value", "check"]
SCHEMA_FORMAT = 1
# A numeric target with at most this many distinct integer values is a class label.
MAX_CLASSES = 20
# More distinct categories than this are not enumerated (the category-set check is skipped).
MAX_CATEGORIES = 1000
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")


class DataValidationError(ValueError):
    """The table cannot be used as is. `failure_cases` says where and why, row by row."""

    def __init__(self, message: str, failure_cases: pd.DataFrame | None = None) -> None:
        super().__init__(message)
        self.failure_cases = (
            failure_cases if failure_cases is not None else pd.DataFrame(columns=FAILURE_COLUMNS)
        )


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    role: Role
    kind: Kind
    max_null_fraction: float = 1.0
    min_value: float | None = None
    max_value: float | None = None
    categories: tuple[str, ...] | None = None


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

    @property
    def numeric_features(self) -> list[str]:
        return [c.name for c in self.columns if c.role == "feature" and c.kind == "numeric"]

    @property
    def categorical_features(self) -> list[str]:
        return [c.name for c in self.columns if c.role == "feature" and c.kind == "categorical"]

    @property
    def id_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.role == "id"]

    @property
    def feature_columns(self) -> list[str]:
        """The model's input columns: numeric first, then categorical (the Pipeline's order)."""
        return [*self.numeric_features, *self.categorical_features]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DatasetSchema:
        data = json.loads(text)
        if data.get("format") != SCHEMA_FORMAT:
            raise ValueError(f"unsupported schema format {data.get('format')!r}")
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
        return cls(columns=columns, classes=None if classes is None else tuple(classes), **data)

    def fingerprint(self) -> str:
        """Short content hash: equal schemas have equal fingerprints, whatever the file name."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ValidationResult:
    valid: pd.DataFrame
    """The rows that passed, with the schema's columns only."""
    quarantined: pd.DataFrame
    failure_cases: pd.DataFrame
    quarantined_share: float
    extra_columns: tuple[str, ...] = ()
    """Columns of the table the schema does not know: dropped from `valid`."""


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


def infer_schema(
    frame: pd.DataFrame,
    target: str,
    timestamp_column: str | None = None,
    range_margin: float = 0.5,
    source: str = "training data",
) -> DatasetSchema:
    """A schema from the first training data: roles, kinds, null budgets, ranges, categories.

    Ranges are widened by `range_margin` times the observed span on each side, so ordinary
    variation passes while impossible values (and infinities) are quarantined.
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
    specs = []
    for name in frame.columns:
        series = frame[name]
        if name == target:
            specs.append(_target_spec(series, source))
        elif name == timestamp_column:
            specs.append(ColumnSpec(str(name), "timestamp", "datetime", 1.0))
        else:
            spec, problem = _feature_spec(str(name), series, range_margin)
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
        raise DataValidationError(f"{source}: no usable feature columns besides {target!r}.")
    return DatasetSchema(tuple(specs), target, task, classes, timestamp_column or None)


def _target_spec(series: pd.Series, source: str) -> ColumnSpec:
    if series.isna().all():
        raise DataValidationError(
            f"{source}: target column {series.name!r} is empty (all values missing).",
            _cases(source, [(str(series.name), None, None, "target_present")]),
        )
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    return ColumnSpec(str(series.name), "target", "numeric" if numeric else "categorical", 1.0)


def _feature_spec(
    name: str, series: pd.Series, range_margin: float
) -> tuple[ColumnSpec, dict[str, object] | None]:
    null_share = float(series.isna().mean())
    if null_share == 1.0:
        return ColumnSpec(name, "ignored", "text"), {
            "value": None,
            "check": "all values missing: drop the column or fix the source",
        }
    # Room for day-to-day variation, but never "anything goes": an all-missing column fails.
    budget = min(0.99, null_share + max(0.05, null_share))
    if pd.api.types.is_datetime64_any_dtype(series):
        return ColumnSpec(name, "ignored", "datetime", 1.0), None
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.astype(float).to_numpy()
        finite = values[np.isfinite(values)]
        if not len(finite):
            return ColumnSpec(name, "ignored", "numeric"), {
                "value": "inf",
                "check": "no finite values",
            }
        low, high = float(finite.min()), float(finite.max())
        pad = range_margin * ((high - low) or max(abs(low), 1.0))
        return ColumnSpec(name, "feature", "numeric", budget, low - pad, high + pad), None
    present = series.dropna()
    text = present.astype(str)
    sample = text.head(200)
    if len(sample) and sample.str.match(_ISO_DATE).all():
        return ColumnSpec(name, "ignored", "datetime", 1.0), None
    numeric = pd.to_numeric(text, errors="coerce")
    if numeric.notna().mean() >= 0.95:
        bad = text[numeric.isna()]
        return ColumnSpec(name, "feature", "numeric"), {
            "row": int(series.index.get_loc(bad.index[0])),
            "value": bad.iloc[0],
            "check": f"mostly numbers but {len(bad)} text values: fix them or remove the rows",
        }
    distinct = text.nunique()
    if len(text) >= 50 and distinct > 0.9 * len(text):
        # An identifier or free text: one category per row generalises to nothing.
        return ColumnSpec(name, "ignored", "text", 1.0), None
    categories = tuple(sorted(text.unique())) if distinct <= MAX_CATEGORIES else None
    return ColumnSpec(name, "feature", "categorical", budget, categories=categories), None


def to_pandera(schema: DatasetSchema, columns: list[str], require_target: bool = True):
    """The pandera DataFrameSchema for the columns the model needs (features, target).

    `columns` are the table's columns: required ones absent from it are reported by the
    `column_in_dataframe` check; ignored columns are not checked at all.
    """
    import pandera.pandas as pa

    checked: dict[str, pa.Column] = {}
    for spec in schema.columns:
        if spec.role == "ignored" or (spec.role == "target" and not require_target):
            continue
        if spec.role == "timestamp":
            checked[spec.name] = pa.Column(nullable=True, required=True)
            continue
        checks = []
        if spec.role == "feature":
            checks.append(_null_budget_check(spec.max_null_fraction))
        if spec.kind == "numeric":
            checks.append(
                pa.Check(lambda s: np.isfinite(s.astype(float)), name="finite", ignore_na=True)
            )
            if spec.min_value is not None and spec.max_value is not None:
                checks.append(pa.Check.in_range(spec.min_value, spec.max_value))
        allowed = schema.classes if spec.role == "target" else spec.categories
        if allowed is not None:
            allowed_set = set(allowed)
            checks.append(
                pa.Check(
                    lambda s, allowed=allowed_set: label_strings(s).isin(allowed),
                    name=f"isin({len(allowed)} known values)",
                )
            )
        checked[spec.name] = pa.Column(
            float if spec.kind == "numeric" and spec.role == "feature" else None,
            checks=checks,
            nullable=spec.role != "target",
            coerce=spec.kind == "numeric" and spec.role == "feature",
            required=True,
        )
    unique = [c for c in checked if c in columns]
    return pa.DataFrameSchema(
        checked, unique=unique or None, report_duplicates="exclude_first", strict=False
    )


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
    """Check `frame` against `schema`: raise on column-level failures, quarantine failing rows.

    Raises DataValidationError (with failure cases) when the table is unusable, or when more
    than `tolerated_quarantine_share` of the rows would be quarantined.
    """
    import pandera.pandas as pa

    frame = frame.reset_index(drop=True)
    pandera_schema = to_pandera(schema, list(frame.columns), require_target)
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

    failing_rows = pd.Index(cases["row"].dropna().astype(int).unique())
    quarantined = frame.loc[failing_rows].copy()
    reasons = cases.groupby("row")["check"].agg(lambda c: "; ".join(sorted(set(c))))
    quarantined["quarantine_reason"] = [reasons.get(i, "") for i in failing_rows]
    known = {c.name for c in schema.columns}
    extra = tuple(str(c) for c in frame.columns if c not in known)
    valid = frame.drop(index=failing_rows)[[c for c in frame.columns if c in known]]
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
    return ValidationResult(valid.reset_index(drop=True), quarantined, cases, share, extra)


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
        elif spec.categories is not None:
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
    return ScoringBatchReport(
        rows=len(frame),
        extra_columns=tuple(sorted(str(c) for c in frame.columns if c not in known_columns)),
        unseen_categories=pd.DataFrame(unseen, columns=["column", "value", "rows"]),
        null_shares_above_budget=null_shares,
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
