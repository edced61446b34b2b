"""The day's missing-share and unseen-category tests against the training rows, counted but
not judged (`domain/data_quality.py` judges them; the rules are in its docstring): their
p-values join the day's one false-discovery family in `assess_day`. Pure pandas/scipy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from mlops_assets.domain.drift.columns import category_counts, require_columns
from mlops_assets.domain.drift.profile import ReferenceProfile


class FeatureCounts(NamedTuple):
    """One feature's missing and unseen counts on the day, with their p-values."""

    feature: str
    kind: Literal["numeric", "categorical"]
    reference_missing: float
    current_missing: float
    missing_p: float
    unseen_share: float = 0.0
    unseen: tuple[str, ...] = ()
    unseen_p: float = 1.0


@dataclass(frozen=True)
class QualityTests:
    """The day's missing-share and unseen-category tests, counted but not yet judged: their
    p-values join the day's one false-discovery family (`assess_day`)."""

    counts: tuple[FeatureCounts, ...]

    @property
    def p_values(self) -> np.ndarray:
        """Each feature's missing-share test, then each categorical feature's unseen-category
        test (a numeric feature has no categories, so no such test: none is counted)."""
        return np.array(
            [c.missing_p for c in self.counts]
            + [c.unseen_p for c in self.counts if c.kind == "categorical"]
        )


def data_quality_tests(profile: ReferenceProfile, current: pd.DataFrame) -> QualityTests:
    """The day's missing-share and unseen-category tests against the training rows."""
    require_columns(current, profile.feature_names, "the day's batch")
    rows = len(current)
    if rows == 0:
        raise ValueError("the day's batch has no rows; there is no data quality to judge")
    partial: list[FeatureCounts] = []
    for numeric in profile.numeric:
        values = current[numeric.name].to_numpy(dtype=np.float64, na_value=np.nan)
        missing = int(np.count_nonzero(~np.isfinite(values)))  # as the profile counts them
        reference_rows = numeric.n + numeric.n_missing
        partial.append(
            FeatureCounts(
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
            FeatureCounts(
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
    return QualityTests(tuple(partial))


def _rise_p_value(k_day: int, n_day: int, k_ref: int, n_ref: int) -> float:
    """One-sided Fisher exact p-value that the day's share k_day / n_day is above training's
    k_ref / n_ref. An empty reference tests nothing (1.0)."""
    if n_ref == 0 or k_day == 0:
        return 1.0
    table = np.array([[k_day, n_day - k_day], [k_ref, n_ref - k_ref]])
    return float(stats.fisher_exact(table, alternative="greater").pvalue)
