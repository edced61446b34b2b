"""Scoring checks: can a model trained on one schema score a batch or a candidate's schema, and
what in a scoreable batch still deserves a look."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_assets.domain.schemas.model import (
    DatasetSchema,
    DataValidationError,
    failure_cases_table,
    is_number_column,
    label_strings,
    summarize_failures,
)
from mlops_assets.domain.schemas.validation import check_expectations

if TYPE_CHECKING:
    import pandas as pd


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
    import pandas as pd

    known = {c.name for c in schema.columns}
    problems: list[tuple[str, int | None, object, str]] = []
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
        cases = failure_cases_table(source, problems)
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


# A categorical column with this many values, none a known category, fails (fewer may be a
# day of genuinely new categories).
_MIN_ROWS_ALL_UNSEEN = 10
# Rows listed per failing column in the failure-cases table: enough to find the pattern.
_ROWS_SHOWN = 20


def categorical_codes_as_text(frame: pd.DataFrame, schema: DatasetSchema) -> pd.DataFrame:
    """A categorical feature delivered as numbers, as the text of the categories it codes.

    Real sources type category codes as numbers (a Parquet or SQL integer column of region
    codes, a CSV read without the model's types), while training stored them as text. When
    every training category is the plain text of a number ("0", "1", "10"), a number maps to
    exactly one of them (10 and 10.0 are "10"), so the column is converted; a code whose text
    a number cannot give back ("01") is left for `check_scoring_batch` to refuse.
    """
    converted = frame
    for name in schema.feature_columns:
        spec = schema.column(name)
        if spec.kind != "categorical" or name not in frame.columns:
            continue
        if not is_number_column(frame[name]) or not spec.categories:
            continue
        if all(_is_number_text(category) for category in spec.categories):
            if converted is frame:
                converted = frame.copy()
            converted[name] = label_strings(frame[name]).astype(object)
    return converted


def _is_number_text(text: str) -> bool:
    import pandas as pd

    try:
        number = float(text)
    except ValueError:
        return False
    return bool(label_strings(pd.Series([number])).iloc[0] == text)


def check_scoring_batch(
    frame: pd.DataFrame, schema: DatasetSchema, source: str
) -> ScoringBatchReport:
    """Can the model score this day's batch? The rules, and why:

    | problem | outcome |
    | --- | --- |
    | a feature column missing | fail: the model cannot run without it |
    | text in a numeric feature | fail, rows named: a value cannot be guessed |
    | numbers in a categorical feature | as text if each category is a number's text, else fail |
    | a categorical feature with no known category at all | fail: coded otherwise |
    | a feature with every value missing | fail: a column delivered empty is an incident |
    | an infinity in a numeric feature | fail, rows named: no imputation or scaling is defined |
    | unseen category | scored (one-hot encodes it as all-zeros) and reported |
    | a value outside the training range | scored: drift evidence, reported by drift_report |
    | extra column | ignored and reported |
    | more missing values than in training | scored (imputed) and reported |

    Raises DataValidationError whose failure cases name the column, the rows (0-based
    positions in the file) and the values.
    """
    import pandas as pd

    problems: list[tuple[str, int | None, object, str]] = []
    totals: dict[tuple[str, str], int] = {}
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
            problems += _numeric_problems(name, column, totals)
        elif is_number_column(column):
            problems.append(
                (name, None, str(column.dtype), "dtype: expected text categories (e.g. '01')")
            )
        elif spec.categories is not None and not spec.other_categories:
            known = set(spec.categories)
            values = label_strings(column).dropna()
            counts = values[~values.isin(known)].value_counts()
            if len(values) >= _MIN_ROWS_ALL_UNSEEN and int(counts.sum()) == len(values):
                # Not one known category: the column is coded otherwise (numbers for names, a
                # renamed code list), and every row would be scored as "unknown".
                problems.append(
                    (name, None, values.iloc[0], "categories: none is one the model knows")
                )
                continue
            unseen += [{"column": name, "value": v, "rows": int(n)} for v, n in counts.items()]
    if problems:
        cases = failure_cases_table(source, problems, totals)
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


def _numeric_problems(
    name: str, column: pd.Series, totals: dict[tuple[str, str], int]
) -> list[tuple[str, int | None, object, str]]:
    """The first _ROWS_SHOWN failing rows of a numeric feature; how many failed in all goes
    into `totals`, so the message counts every row, not the ones listed."""
    import numpy as np
    import pandas as pd

    positions = np.arange(len(column))
    if is_number_column(column):
        values = column.astype(float).to_numpy()
        infinite = positions[np.isinf(values)]
        if len(infinite):
            totals[(name, "finite")] = len(infinite)
        return [(name, int(i), float(values[i]), "finite") for i in infinite[:_ROWS_SHOWN]]
    numbers = pd.to_numeric(column, errors="coerce")
    text = positions[(numbers.isna() & column.notna()).to_numpy()]
    if not len(text):  # numbers stored as text: the model would see strings
        return [(name, None, str(column.dtype), "dtype: expected numeric")]
    totals[(name, "dtype: expected numeric")] = len(text)
    return [(name, int(i), column.iloc[i], "dtype: expected numeric") for i in text[:_ROWS_SHOWN]]
