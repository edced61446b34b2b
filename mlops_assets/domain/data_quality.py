"""A day's data quality against the training rows of the model that scores it: missing values,
categories the model never saw, duplicated rows and columns nobody asked for.

Drift tests compare the distributions of the values that are there; a column whose missing
share doubles, or whose categories are partly re-spelled, can pass them (the model imputes the
gaps, encodes the new spellings as "unknown") while the predictions quietly change. These are
findings of their own, judged beyond noise at the day's row count:

- **missing share rise**: the day's missing share of a feature against its share in the
  training rows (`ReferenceProfile`), one-sided Fisher exact test (is the day's share higher?);
- **unseen-category share**: the share of the day's rows whose category of a categorical
  feature the training rows never had, one-sided Fisher exact test against the training rows'
  zero occurrences of them.

Both families of p-values go through one Benjamini-Hochberg control across the day (at
`DataQualityConfig.fdr`, the drift engine's 0.05), and a finding also needs its effect: a rise
of at least `min_missing_rise` (2 points) or an unseen share of at least `min_unseen_share`
(0.2 %), so a million-row day does not alarm on a few rows. A finding is a `warning`; a
rise or unseen share of `critical_share` (25 %) or more is `critical` (a partial category
change: a quarter of a column's values the model cannot read). These two are drift of the
day's inputs (issue 29): `drift_severity` and `drift_findings`, which `assess_day` folds into
the day's drift severity.

**Duplicated rows** are rows whose id columns repeat an earlier row's (by value, as labels are
joined), or, with no id columns, rows identical to an earlier one in every column. At least
`duplicate_warning_share` (1 %) of the day is a warning, `critical_share` (a file delivered
twice is half) critical. **Extra columns** (in the day's file, not in the model's schema) are
listed; the model ignores them, so they set no severity.

Pure pandas/scipy: no Dagster, MLflow or disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from mlops_assets.domain.drift.columns import category_counts, require_columns
from mlops_assets.domain.drift.profile import ReferenceProfile
from mlops_assets.domain.drift.statistics import benjamini_hochberg
from mlops_assets.domain.labels import id_keys
from mlops_assets.domain.verdicts import Severity, worst

# Unseen categories named per feature in the table and the findings (the rest are counted).
_NAMED_CATEGORIES = 3


class _Counts(NamedTuple):
    feature: str
    kind: Literal["numeric", "categorical"]
    reference_missing: float
    current_missing: float
    missing_p: float
    unseen_share: float = 0.0
    unseen: tuple[str, ...] = ()
    unseen_p: float = 1.0


@dataclass(frozen=True)
class DataQualityConfig:
    fdr: float = 0.05
    """Benjamini-Hochberg false discovery rate across the day's missing and unseen tests."""
    min_missing_rise: float = 0.02
    """The smallest rise of a feature's missing share (absolute, 0.02 = 2 points) that counts."""
    min_unseen_share: float = 0.002
    """The smallest share of the day's rows with an unseen category that counts (0.2 %: 20 rows
    of a 10,000-row day; a category the model never saw is a finding once it is beyond noise)."""
    critical_share: float = 0.25
    """A missing rise, unseen share or duplicate share from here on makes the day critical."""
    duplicate_warning_share: float = 0.01
    """Duplicated rows from this share of the day on are a warning."""

    def __post_init__(self) -> None:
        for name in ("fdr", "critical_share"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"DataQualityConfig.{name} must be in (0, 1], got {value}")
        for name in ("min_missing_rise", "min_unseen_share", "duplicate_warning_share"):
            value = getattr(self, name)
            if not 0 <= value <= self.critical_share:
                raise ValueError(
                    f"DataQualityConfig.{name} must be in [0, critical_share], got {value}"
                )


@dataclass(frozen=True)
class FeatureQuality:
    """One feature's data quality on the day, against the training rows."""

    feature: str
    kind: Literal["numeric", "categorical"]
    reference_missing_share: float
    current_missing_share: float
    missing_p_value: float
    """One-sided Fisher exact: is the day's missing share above training's?"""
    missing_q_value: float
    missing_flagged: bool
    unseen_share: float
    """Share of the day's rows whose category training never had (0 for numeric features)."""
    unseen_categories: tuple[str, ...]
    """The unseen categories, most frequent first."""
    unseen_p_value: float
    """One-sided Fisher exact against training's zero occurrences (1.0 for numeric features)."""
    unseen_q_value: float
    unseen_flagged: bool

    @property
    def missing_rise(self) -> float:
        return self.current_missing_share - self.reference_missing_share


@dataclass(frozen=True)
class DataQualityResult:
    """The day's data quality: per feature, duplicates, extra columns and the severity."""

    features: tuple[FeatureQuality, ...]
    rows: int
    duplicate_rows: int
    """Rows repeating an earlier row of the day (the first of each is not counted)."""
    duplicate_key: str
    """What makes two rows the same: "ids a, b" or "all columns"."""
    extra_columns: tuple[str, ...]
    severity: Severity
    findings: tuple[str, ...]
    """One line per finding, worst first, naming the column and its share."""
    drift_severity: Severity = Severity.NONE
    """The worst of the missing-share and unseen-category findings: drift of the day's inputs,
    part of the day's drift severity (duplicated rows are a delivery fault, not drift)."""
    drift_findings: tuple[str, ...] = ()
    """Those findings' lines, worst first."""

    @property
    def duplicate_share(self) -> float:
        return self.duplicate_rows / self.rows if self.rows else 0.0

    @property
    def max_missing_share_rise(self) -> float:
        return max((max(f.missing_rise, 0.0) for f in self.features), default=0.0)

    @property
    def max_unseen_category_share(self) -> float:
        return max((f.unseen_share for f in self.features), default=0.0)

    @property
    def flagged_features(self) -> int:
        return sum(f.missing_flagged or f.unseen_flagged for f in self.features)

    @property
    def summary(self) -> str:
        if not self.findings:
            return (
                "no data-quality finding: missing shares and categories as in training, "
                f"{self.duplicate_rows} duplicated row(s)"
            )
        return "; ".join(self.findings)

    def to_frame(self) -> pd.DataFrame:
        """One row per feature, columns for the report's feature table (rounded for people)."""
        return pd.DataFrame(
            {
                "feature": [f.feature for f in self.features],
                "missing_share": [round(f.current_missing_share, 4) for f in self.features],
                "training_missing_share": [
                    round(f.reference_missing_share, 4) for f in self.features
                ],
                "missing_rise_flagged": [f.missing_flagged for f in self.features],
                "unseen_category_share": [round(f.unseen_share, 4) for f in self.features],
                "unseen_categories": [_named(f) for f in self.features],
                "unseen_flagged": [f.unseen_flagged for f in self.features],
            }
        )


def assess_data_quality(
    profile: ReferenceProfile,
    current: pd.DataFrame,
    *,
    id_columns: Sequence[str] = (),
    known_columns: Sequence[str] | None = None,
    config: DataQualityConfig | None = None,
) -> DataQualityResult:
    """The day's data quality (the rules are in the module docstring).

    Args:
        current: the day's rows as delivered (features, and ids, target and others when there).
        id_columns: the schema's id columns; empty: duplicates are rows identical in every
            column.
        known_columns: every column the schema names; others are listed as extra. None: not
            checked.
    """
    config = config or DataQualityConfig()
    require_columns(current, profile.feature_names, "the day's batch")
    rows = len(current)
    if rows == 0:
        raise ValueError("the day's batch has no rows; there is no data quality to judge")
    partial: list[_Counts] = []
    for numeric in profile.numeric:
        values = current[numeric.name].to_numpy(dtype=np.float64, na_value=np.nan)
        missing = int(np.count_nonzero(~np.isfinite(values)))  # as the profile counts them
        reference_rows = numeric.n + numeric.n_missing
        partial.append(
            _Counts(
                numeric.name,
                "numeric",
                numeric.missing_share,
                missing / rows,
                _rise_p_value(missing, rows, numeric.n_missing, reference_rows),
            )
        )
    for categorical in profile.categorical:
        counts, missing = category_counts(current[categorical.name])
        unseen = sorted(
            ((k, v) for k, v in counts.items() if k not in categorical.counts),
            key=lambda kv: (-kv[1], kv[0]),
        )
        unseen_rows = sum(v for _, v in unseen)
        reference_rows = categorical.n + categorical.n_missing
        partial.append(
            _Counts(
                categorical.name,
                "categorical",
                categorical.missing_share,
                missing / rows,
                _rise_p_value(missing, rows, categorical.n_missing, reference_rows),
                unseen_rows / rows,
                tuple(k for k, _ in unseen),
                _rise_p_value(unseen_rows, rows, 0, reference_rows),
            )
        )
    # One false-discovery control across both families of the day's tests.
    q = benjamini_hochberg(np.array([c.missing_p for c in partial] + [c.unseen_p for c in partial]))
    features = tuple(
        FeatureQuality(
            feature=c.feature,
            kind=c.kind,
            reference_missing_share=c.reference_missing,
            current_missing_share=c.current_missing,
            missing_p_value=c.missing_p,
            missing_q_value=float(mq),
            missing_flagged=bool(
                mq <= config.fdr
                and c.current_missing - c.reference_missing >= config.min_missing_rise
            ),
            unseen_share=c.unseen_share,
            unseen_categories=c.unseen,
            unseen_p_value=c.unseen_p,
            unseen_q_value=float(uq),
            unseen_flagged=bool(uq <= config.fdr and c.unseen_share >= config.min_unseen_share),
        )
        for c, mq, uq in zip(partial, q[: len(partial)], q[len(partial) :], strict=True)
    )
    duplicates, key = duplicate_rows(current, id_columns)
    extra = (
        ()
        if known_columns is None
        else tuple(str(c) for c in current.columns if c not in set(known_columns))
    )
    found = _findings(features, duplicates, rows, key, config)
    drift = [finding for finding in found if finding.drift]
    return DataQualityResult(
        features=features,
        rows=rows,
        duplicate_rows=duplicates,
        duplicate_key=key,
        extra_columns=extra,
        severity=worst(*(finding.level for finding in found)),
        findings=tuple(finding.text for finding in found),
        drift_severity=worst(*(finding.level for finding in drift)),
        drift_findings=tuple(finding.text for finding in drift),
    )


def duplicate_rows(frame: pd.DataFrame, id_columns: Sequence[str] = ()) -> tuple[int, str]:
    """Rows repeating an earlier row (by id value with `id_columns`, else every column), and
    what made them the same."""
    ids = [name for name in id_columns if name in frame.columns]
    if ids:
        repeated = _ids(frame, ids).duplicated(keep="first")
        return int(repeated.sum()), "ids " + ", ".join(ids)
    try:
        repeated = frame.duplicated(keep="first")
    except TypeError:  # a column of lists or dicts (nested Parquet): compared by their text
        repeated = frame.astype(str).duplicated(keep="first")
    return int(repeated.sum()), "all columns"


def last_row_per_id(frame: pd.DataFrame, id_columns: Sequence[str]) -> pd.DataFrame:
    """Each id once, its last row (as a repeated label keeps its last): a file delivered twice
    is judged on its rows once, not on twice as many rows with an interval too narrow. Without
    id columns (or with only the row position `row`) every row is its own."""
    ids = [name for name in id_columns if name in frame.columns and name != "row"]
    if not ids or frame.empty:
        return frame
    keep = ~_ids(frame, ids).duplicated(keep="last").to_numpy()
    return frame if keep.all() else frame[keep]


def _ids(frame: pd.DataFrame, ids: Sequence[str]) -> pd.DataFrame | pd.Series:
    """What compares the rows' ids by value: a column of one type as it is (a million ids in
    hundredths of a second), an object column, which may mix 7, 7.0 and "7", through id_keys
    (a second a million)."""
    if any(frame[name].dtype == object for name in ids):
        return id_keys(frame, ids)
    return frame[list(ids)]


def _level(share: float, config: DataQualityConfig) -> Severity:
    return Severity.CRITICAL if share >= config.critical_share else Severity.WARNING


def _rise_p_value(k_day: int, n_day: int, k_ref: int, n_ref: int) -> float:
    """One-sided Fisher exact p-value that the day's share k_day / n_day is above training's
    k_ref / n_ref. An empty reference tests nothing (1.0)."""
    if n_ref == 0 or k_day == 0:
        return 1.0
    table = np.array([[k_day, n_day - k_day], [k_ref, n_ref - k_ref]])
    return float(stats.fisher_exact(table, alternative="greater").pvalue)


class _Finding(NamedTuple):
    level: Severity
    share: float
    text: str
    drift: bool
    """A missing-share or unseen-category finding (the inputs moved), not duplicated rows."""


def _findings(
    features: Sequence[FeatureQuality],
    duplicates: int,
    rows: int,
    key: str,
    config: DataQualityConfig,
) -> list[_Finding]:
    """The day's findings, worst first."""
    found: list[_Finding] = []
    for f in features:
        if f.unseen_flagged:
            found.append(
                _Finding(
                    _level(f.unseen_share, config),
                    f.unseen_share,
                    f"`{f.feature}`: {f.unseen_share:.1%} of rows have a category training never "
                    f"had ({_named(f)})",
                    drift=True,
                )
            )
        if f.missing_flagged:
            found.append(
                _Finding(
                    _level(f.missing_rise, config),
                    f.missing_rise,
                    f"`{f.feature}`: {f.current_missing_share:.1%} missing against "
                    f"{f.reference_missing_share:.1%} in training",
                    drift=True,
                )
            )
    share = duplicates / rows if rows else 0.0
    if duplicates and share >= config.duplicate_warning_share:
        found.append(
            _Finding(
                _level(share, config),
                share,
                f"{duplicates} duplicated rows ({share:.1%} of the day, same {key})",
                drift=False,
            )
        )
    found.sort(key=lambda finding: (-finding.level.rank, -finding.share))
    return found


def _named(feature: FeatureQuality) -> str:
    names = feature.unseen_categories
    if not names:
        return ""
    shown = ", ".join(repr(n) for n in names[:_NAMED_CATEGORIES])
    more = len(names) - _NAMED_CATEGORIES
    return shown + (f" and {more} more" if more > 0 else "")
