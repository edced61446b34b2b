"""Validation of a table against its schema: the contract with pandera (column failures raise,
row failures are quarantined) and the learned expectations (counted, never quarantined)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlops_assets.domain.schemas.model import (
    FAILURE_COLUMNS,
    DatasetSchema,
    DataValidationError,
    failure_cases_table,
    failure_message,
    label_strings,
)

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

EXPECTATION_COLUMNS = ["column", "expectation", "rows"]
# A null share above the expected one by more than this is reported (not an error).
NULL_SHARE_SLACK = 0.02


def _no_expectation_rows() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=EXPECTATION_COLUMNS)


@dataclass(frozen=True)
class ValidationResult:
    valid: pd.DataFrame
    """The rows that passed, with the schema's columns only (excluded columns dropped)."""
    quarantined: pd.DataFrame
    failure_cases: pd.DataFrame
    quarantined_share: float
    extra_columns: tuple[str, ...] = ()
    """Columns of the table the schema does not know: dropped from `valid`."""
    outside_expectations: pd.DataFrame = field(default_factory=_no_expectation_rows)
    """column, expectation, rows: valid rows outside a learned expectation (reported only)."""
    rows_outside_expectations: int = 0
    """Valid rows with at least one value outside the expectations."""
    duplicate_rows: int = 0
    """Rows repeating an earlier row's features and target, kept (distinct ids, or no ids)."""


def to_pandera(schema: DatasetSchema, require_target: bool = True) -> pa.DataFrameSchema:
    """The pandera DataFrameSchema of the contract: the columns the model needs (features,
    target), the timestamp and the ids, with their types, finiteness, null budgets and the
    target's classes. Expectations (ranges, category sets) are not checked here.

    Required columns absent from the table are reported by the `column_in_dataframe` check;
    ignored and excluded columns are not checked at all.
    """
    import numpy as np
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


def _null_budget_check(budget: float) -> pa.Check:
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
    import pandas as pd
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
            failure_message(source, _column_failures(cases, frame), "does not match its schema"),
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
                failure_cases_table(
                    source, [(schema.target, None, only[0] if only else None, "two_classes")]
                ),
            )
    if not len(valid):
        raise DataValidationError(failure_message(source, cases, "has no valid rows"), cases)
    if share > tolerated_quarantine_share:
        raise DataValidationError(
            failure_message(
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
    import pandas as pd

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
    import numpy as np
    import pandas as pd

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
