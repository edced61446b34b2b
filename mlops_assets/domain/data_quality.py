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

In `assess_day` these tests are one Benjamini-Hochberg family with the day's drift tests (the
features' and the score's, at `DriftConfig.fdr` = `DataQualityConfig.fdr`, 0.05): both kinds
of finding set the day's severity, so one control keeps a clean day's chance of any alarm at
5 % (two families at 5 % each let 6.1 % of clean 50-row days of 20 features 30 % missing
alarm). Called alone, `assess_data_quality` controls its own tests the same way. A numeric
feature has no unseen-category test, so none is counted. A finding also needs its effect: a rise
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

from mlops_assets.domain.drift.profile import ReferenceProfile
from mlops_assets.domain.drift.statistics import benjamini_hochberg
from mlops_assets.domain.labels import id_keys
from mlops_assets.domain.quality_tests import QualityTests, data_quality_tests
from mlops_assets.domain.verdicts import Severity, worst

# Unseen categories named per feature in the table and the findings (the rest are counted).
_NAMED_CATEGORIES = 3


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
    tests: QualityTests | None = None,
    q_values: np.ndarray | None = None,
) -> DataQualityResult:
    """The day's data quality (the rules are in the module docstring).

    Args:
        current: the day's rows as delivered (features, and ids, target and others when there).
        id_columns: the schema's id columns; empty: duplicates are rows identical in every
            column.
        known_columns: every column the schema names; others are listed as extra. None: not
            checked.
        tests: `data_quality_tests` of this profile and day, when already counted.
        q_values: the q-values of `tests.p_values` in a wider false-discovery family (the
            day's, with the drift tests: `assess_day`); None: Benjamini-Hochberg across these
            tests alone.
    """
    config = config or DataQualityConfig()
    tests = tests or data_quality_tests(profile, current)
    partial = tests.counts
    rows = len(current)
    q = benjamini_hochberg(tests.p_values) if q_values is None else np.asarray(q_values)
    if q.shape != tests.p_values.shape:
        raise ValueError(f"{q.size} q-values for the day's {tests.p_values.size} quality tests")
    missing_q = iter(q[: len(partial)])
    unseen_q = iter(q[len(partial) :])
    features = []
    for c in partial:
        mq = float(next(missing_q))
        uq = float(next(unseen_q)) if c.kind == "categorical" else 1.0
        features.append(
            FeatureQuality(
                feature=c.feature,
                kind=c.kind,
                reference_missing_share=c.reference_missing,
                current_missing_share=c.current_missing,
                missing_p_value=c.missing_p,
                missing_q_value=mq,
                missing_flagged=bool(
                    mq <= config.fdr
                    and c.current_missing - c.reference_missing >= config.min_missing_rise
                ),
                unseen_share=c.unseen_share,
                unseen_categories=c.unseen,
                unseen_p_value=c.unseen_p,
                unseen_q_value=uq,
                unseen_flagged=bool(uq <= config.fdr and c.unseen_share >= config.min_unseen_share),
            )
        )
    duplicates, key = duplicate_rows(current, id_columns)
    extra = (
        ()
        if known_columns is None
        else tuple(str(c) for c in current.columns if c not in set(known_columns))
    )
    found = _findings(tuple(features), duplicates, rows, key, config)
    drift = [finding for finding in found if finding.drift]
    return DataQualityResult(
        features=tuple(features),
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
