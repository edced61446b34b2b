"""The verdict for a day: every feature's comparison, Benjamini-Hochberg across them, and the
dataset-level severity (the rules are in the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlops_assets.domain.drift.columns import (
    DriftInputError,
    require_columns,
    sorted_numeric_block,
)
from mlops_assets.domain.drift.evidently_rules import (
    EVIDENTLY_DRIFT_SHARE,
    categorical_stats,
    numeric_stats,
)
from mlops_assets.domain.drift.profile import ReferenceProfile, build_reference_profile
from mlops_assets.domain.drift.statistics import benjamini_hochberg, psi_p_value
from mlops_assets.domain.verdicts import Severity

Kind = Literal["numeric", "categorical"]

MIN_VALUES_TO_JUDGE = 30
"""A feature with fewer present values on the day is `insufficient_data`: reported with its
count, never drifted (an effect size from a handful of values is mostly noise)."""


@dataclass(frozen=True)
class DriftConfig:
    """Our verdict's thresholds (evidently's rule has fixed ones, see the package docstring)."""

    fdr: float = 0.05
    """Benjamini-Hochberg false discovery rate across the features of one day."""
    min_effect: float = 0.1
    """Effect-size floor: normalised Wasserstein (numeric, k > 5) or Jensen-Shannon distance."""
    critical_share: float = 0.25
    """Share of drifted features at which the day is dataset drift, severity critical."""
    psi_moderate: float = 0.1
    """PSI from here on is a moderate shift."""
    psi_major: float = 0.2
    """PSI from here on is a major shift (its band; descriptive, it sets no severity)."""

    def __post_init__(self) -> None:
        for name in ("fdr", "critical_share"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"DriftConfig.{name} must be in (0, 1], got {value}")
        if self.min_effect < 0:
            raise ValueError(f"DriftConfig.min_effect must be >= 0, got {self.min_effect}")
        if not 0 <= self.psi_moderate <= self.psi_major:
            raise ValueError("DriftConfig needs 0 <= psi_moderate <= psi_major")


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's comparison. `statistic`/`p_value`/`threshold` belong to `test`, the test
    evidently's default rule picks (`p_value` is None for the distance tests)."""

    feature: str
    kind: Kind
    test: str
    """ks, chisquare, z, wasserstein, jensenshannon (evidently's names); none: no values."""
    statistic: float
    """KS D, chi-square, Z, normalised Wasserstein or Jensen-Shannon distance."""
    p_value: float | None
    threshold: float
    evidently_drifted: bool
    """evidently's verdict at its defaults, before our false-alarm control."""
    significance_test: str
    """The two-sample test behind our verdict: ks or chi2 (homogeneity)."""
    significance_p_value: float
    q_value: float
    """Benjamini-Hochberg adjusted p-value across the features of the day."""
    effect: float
    """Normalised Wasserstein distance (numeric, k > 5) or Jensen-Shannon distance."""
    effect_measure: str
    psi: float
    psi_band: str
    psi_q_value: float
    """Benjamini-Hochberg adjusted p-value (across the day's PSIs) of the PSI against its own
    noise at the day's and the reference's sizes (1.0 below `psi_major`). Descriptive: PSI
    sets no severity."""
    drifted: bool
    """Our verdict: q_value <= fdr and effect >= min_effect, with enough values to judge."""
    insufficient_data: bool
    """Fewer than MIN_VALUES_TO_JUDGE present values on the day: not judged."""
    reference_n: int
    current_n: int
    reference_missing_share: float
    current_missing_share: float


@dataclass(frozen=True)
class DriftResult:
    """The day's verdict: per-feature comparisons and the dataset-level severity."""

    features: tuple[FeatureDrift, ...]
    drifted_share: float
    severity: Severity
    dataset_drift: bool
    evidently_drifted_share: float
    evidently_dataset_drift: bool
    """evidently's dataset verdict: at least half of the columns drifted by its rule."""
    max_psi: float
    current_rows: int
    prediction: FeatureDrift | None = None
    """The model score's drift, when `compute_drift` was given the scores."""
    other_q_values: tuple[float, ...] = ()
    """The q-values of `compute_drift`'s `other_p_values`, in its order: the day's other tests
    judged in the same false-discovery family."""

    @property
    def insufficient_features(self) -> tuple[str, ...]:
        return tuple(f.feature for f in self.features if f.insufficient_data)

    def to_frame(self) -> pd.DataFrame:
        """One row per feature, for the report table: our verdict and the figures behind it
        first (`p_value` is the significance test's, KS or chi-square, which every feature
        has), then evidently's rule (`evidently_score` is its p-value, or for the distance
        tests it picks on large references, which have none, the distance)."""
        rows = [
            {
                "feature": f.feature,
                "kind": f.kind,
                "drifted": f.drifted,
                "insufficient_data": f.insufficient_data,
                "significance_test": f.significance_test,
                "p_value": f.significance_p_value,
                "q_value": f.q_value,
                "effect": f.effect,
                "effect_measure": f.effect_measure,
                "psi": f.psi,
                "psi_band": f.psi_band,
                "psi_q_value": f.psi_q_value,
                "evidently_test": f.test,
                "evidently_score": f.statistic if f.p_value is None else f.p_value,
                "evidently_threshold": f.threshold,
                "evidently_drifted": f.evidently_drifted,
                "current_n": f.current_n,
                "current_missing_share": f.current_missing_share,
                "reference_missing_share": f.reference_missing_share,
            }
            for f in self.features
        ]
        return pd.DataFrame(rows, columns=list(_TABLE_COLUMNS))


_TABLE_COLUMNS = (
    "feature",
    "kind",
    "drifted",
    "insufficient_data",
    "significance_test",
    "p_value",
    "q_value",
    "effect",
    "effect_measure",
    "psi",
    "psi_band",
    "psi_q_value",
    "evidently_test",
    "evidently_score",
    "evidently_threshold",
    "evidently_drifted",
    "current_n",
    "current_missing_share",
    "reference_missing_share",
)


def compute_drift(
    profile: ReferenceProfile,
    current_frame: pd.DataFrame,
    config: DriftConfig | None = None,
    *,
    scores: tuple[np.ndarray, np.ndarray] | None = None,
    other_p_values: np.ndarray | None = None,
) -> DriftResult:
    """Compare one batch with the reference profile; see the package docstring for the rules.

    `scores`: the model's scores of its reference rows and of the batch. Their drift (the
    result's `prediction`) is tested in one false-discovery family with the features: the drift
    check warns on either, so one family keeps a clean day's chance of a warning at `fdr`
    (apart, a one-feature table's score and feature alarmed on 7 % of clean 30-row days). It
    counts in no drifted share.

    `other_p_values`: the day's other tests whose findings set the same severity (assess_day:
    the data-quality tests). Benjamini-Hochberg runs over them and the drift tests together,
    so a clean day's chance of any finding of either kind stays at `fdr` (in two families at
    5 % each, clean 50-row days of a table 30 % missing alarmed on 6.7 %); their q-values are
    the result's `other_q_values`."""
    config = config or DriftConfig()
    if len(current_frame) == 0:
        raise DriftInputError("the current batch has no rows; nothing to compare")
    require_columns(current_frame, profile.feature_names, "current batch")
    names = [c.name for c in profile.numeric]
    block, n_valid = sorted_numeric_block(current_frame, names)
    rows = len(current_frame)
    # The smallest p-value a Monte Carlo test must be able to give: Benjamini-Hochberg's bar
    # for a lone discovery among the day's tests, halved for margin.
    others = np.empty(0) if other_p_values is None else np.asarray(other_p_values, np.float64)
    tests = len(profile.numeric) + len(profile.categorical) + (scores is not None) + others.size
    resolution = config.fdr / (2 * tests)
    partial = [
        numeric_stats(ref, block[i, : n_valid[i]], rows, resolution)
        for i, ref in enumerate(profile.numeric)
    ]
    partial += [
        categorical_stats(ref, current_frame[ref.name], resolution) for ref in profile.categorical
    ]
    if scores is not None:
        partial.append(_score_stats(*scores, resolution))

    judged = [p["current_n"] >= MIN_VALUES_TO_JUDGE for p in partial]
    p_values = [
        p["significance_p_value"] if ok else 1.0 for p, ok in zip(partial, judged, strict=True)
    ]
    family = benjamini_hochberg(np.concatenate([np.array(p_values), others]))
    q_values, other_q_values = family[: len(p_values)], family[len(p_values) :]
    # PSI is descriptive (issue 29: PSI on 50 rows is noise): its q-value against its own noise
    # at the day's size says whether a major PSI is more than chance, but it sets no severity.
    # Counted as a second alarm beside the tests of the same features it raised clean 50-row
    # days of a one-feature table to 8 % (scripts/measure_small_batches.py); a column whose
    # values went missing, the case it caught, is the data-quality test's (domain/data_quality).
    psi_q = benjamini_hochberg(
        np.array(
            [
                psi_p_value(p["psi_reference_counts"], rows, p["psi"])
                if p["psi"] >= config.psi_major
                else 1.0
                for p in partial
            ]
        )
    )
    features = []
    for stats_, q, pq, ok in zip(partial, q_values, psi_q, judged, strict=True):
        stats_ = {k: v for k, v in stats_.items() if k != "psi_reference_counts"}
        drifted = bool(ok and q <= config.fdr and stats_["effect"] >= config.min_effect)
        features.append(
            FeatureDrift(
                **stats_,
                q_value=float(q),
                psi_band=psi_band(stats_["psi"], config),
                psi_q_value=float(pq),
                drifted=drifted,
                insufficient_data=not ok,
            )
        )
    prediction = features.pop() if scores is not None else None
    count = len(features)
    drifted_share = sum(f.drifted for f in features) / count if count else 0.0
    evidently_share = sum(f.evidently_drifted for f in features) / count if count else 0.0
    max_psi = max((f.psi for f in features), default=0.0)
    dataset_drift = count > 0 and drifted_share >= config.critical_share
    if dataset_drift:
        severity = Severity.CRITICAL
    elif any(f.drifted for f in features):
        severity = Severity.WARNING
    else:
        severity = Severity.NONE
    return DriftResult(
        features=tuple(features),
        drifted_share=drifted_share,
        severity=severity,
        dataset_drift=dataset_drift,
        evidently_drifted_share=evidently_share,
        evidently_dataset_drift=count > 0 and evidently_share >= EVIDENTLY_DRIFT_SHARE,
        max_psi=max_psi,
        current_rows=rows,
        prediction=prediction,
        other_q_values=tuple(float(q) for q in other_q_values),
    )


def _score_stats(
    reference_scores: np.ndarray, current_scores: np.ndarray, resolution: float
) -> dict[str, Any]:
    """The score's comparison as a numeric feature named "prediction"."""
    reference = np.asarray(reference_scores, dtype=np.float64)
    current = np.asarray(current_scores, dtype=np.float64)
    profile = build_reference_profile(pd.DataFrame({"prediction": reference}), ("prediction",), ())
    present = np.sort(current[np.isfinite(current)])
    return numeric_stats(profile.numeric[0], present, current.size, resolution)


def psi_band(psi: float, config: DriftConfig | None = None) -> str:
    config = config or DriftConfig()
    if psi >= config.psi_major:
        return "major"
    if psi >= config.psi_moderate:
        return "moderate"
    return "stable"
