"""One feature's comparison: evidently 0.7's default test rule (the table in the package
docstring), reproduced, and beside it the two-sample significance test and effect size that our
verdict uses."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from mlops_assets.domain.drift.columns import category_counts
from mlops_assets.domain.drift.statistics import (
    bin_counts,
    chi2_homogeneity_p_value,
    jensenshannon,
    population_stability_index,
    runs,
    wasserstein_1,
)

if TYPE_CHECKING:
    # Annotations only: the profile imports this module's thresholds.
    from mlops_assets.domain.drift.profile import CategoricalReference, NumericReference

# evidently 0.7 DataDriftPreset defaults.
EVIDENTLY_SMALL_REFERENCE = 1000
"""Reference sizes up to this use p-value tests (KS, chi-square, Z); above it, distances."""
EVIDENTLY_LOW_CARDINALITY = 5
"""Numeric columns with at most this many distinct values are tested as categories."""
EVIDENTLY_BINARY = 2
"""At most this many distinct values: the Z-test for two proportions instead of chi-square."""
EVIDENTLY_P_VALUE = 0.05
EVIDENTLY_DISTANCE = 0.1
EVIDENTLY_DRIFT_SHARE = 0.5
WASSERSTEIN_MIN_STD = 0.001
"""evidently's floor on the reference std that normalises the Wasserstein distance."""
SCIPY_EXACT_KS_MAX_N = 10_000
"""scipy's `ks_2samp(method="auto")` is exact when both samples are at most this large."""


def numeric_stats(
    ref: NumericReference, y: np.ndarray, rows: int, resolution: float = 1.0
) -> dict[str, Any]:
    """`y`: the batch's finite values of the column, sorted; `resolution`: the smallest
    significance p-value the caller must be able to reach (`chi2_homogeneity_p_value`)."""
    n2 = y.size
    ref_bins = np.append(ref.psi_counts, ref.n_missing) / (ref.n + ref.n_missing)
    cur_bins = np.append(bin_counts(y, ref.psi_edges), rows - n2) / rows
    common: dict[str, Any] = {
        "feature": ref.name,
        "kind": "numeric",
        "psi": population_stability_index(ref_bins, cur_bins),
        "psi_reference_counts": np.append(ref.psi_counts, ref.n_missing),
        "reference_n": ref.n,
        "current_n": n2,
        "reference_missing_share": ref.missing_share,
        "current_missing_share": (rows - n2) / rows,
    }
    if ref.n == 0 or n2 == 0:
        return common | _untestable("ks", "wasserstein_norm")
    if ref.n_unique <= EVIDENTLY_LOW_CARDINALITY:
        # Few reference values (so stored exactly): evidently decides on the union with the
        # batch's distinct values.
        distinct, counts = runs(y)
        keys = np.union1d(ref.values, distinct)
        if keys.size <= EVIDENTLY_LOW_CARDINALITY:
            r = np.zeros(keys.size, dtype=np.int64)
            c = np.zeros(keys.size, dtype=np.int64)
            r[np.searchsorted(keys, ref.values)] = ref.counts
            c[np.searchsorted(keys, distinct)] = counts
            return common | _discrete_tests(r, c, ref.n, resolution)
    return common | _continuous_tests(ref, y)


def _continuous_tests(ref: NumericReference, y: np.ndarray) -> dict[str, Any]:
    x, w = ref.values, ref.counts
    m, n2 = int(w.sum()), y.size
    left = np.searchsorted(y, x, side="left")
    right = np.searchsorted(y, x, side="right")
    cum = np.cumsum(w)
    # Both ECDFs are right-continuous steps; on [x_i, x_i+1) the reference one is flat, so
    # the largest gap is at x_i (batch count `right`) or just before x_i+1 (count `left`).
    # In integer units of 1 / (m * n2), exact.
    at_x = np.abs(cum * n2 - right * m)
    before_x = np.abs((cum - w) * n2 - left * m)
    i_at, i_before = int(np.argmax(at_x)), int(np.argmax(before_x))
    if at_x[i_at] >= before_x[i_before]:
        ref_count, cur_count = int(cum[i_at]), int(right[i_at])
    else:
        ref_count, cur_count = int(cum[i_before] - w[i_before]), int(left[i_before])
    d = abs(ref_count * n2 - cur_count * m) / (m * n2)
    ks_p = _ks_p_value(d, ref, ref_count, cur_count, n2)

    w1 = wasserstein_1(x, cum / m, y)
    w1_norm = w1 / max(ref.std, WASSERSTEIN_MIN_STD)

    if ref.n <= EVIDENTLY_SMALL_REFERENCE:
        evidently = _p_test("ks", d, ks_p, drifted=ks_p <= EVIDENTLY_P_VALUE)
    else:
        evidently = _distance_test("wasserstein", w1_norm)
    return evidently | {
        "significance_test": "ks",
        "significance_p_value": ks_p,
        "effect": w1_norm,
        "effect_measure": "wasserstein_norm",
    }


def _ks_p_value(d: float, ref: NumericReference, ref_count: int, cur_count: int, n2: int) -> float:
    n1 = ref.n
    if ref.exact and n1 <= EVIDENTLY_SMALL_REFERENCE and max(n1, n2) <= SCIPY_EXACT_KS_MAX_N:
        # ks_2samp's p-value depends on (n1, n2, D) only: two two-valued samples with the
        # same ECDF gap give scipy's exact p-value (and its fallbacks) for our D.
        a = np.repeat([0.0, 1.0], [ref_count, n1 - ref_count])
        b = np.repeat([0.0, 1.0], [cur_count, n2 - cur_count])
        return float(stats.ks_2samp(a, b).pvalue)
    en = round(n1 * n2 / (n1 + n2))
    return float(np.clip(stats.kstwo.sf(d, en), 0.0, 1.0))


def categorical_stats(
    ref: CategoricalReference, series: pd.Series, resolution: float = 1.0
) -> dict[str, Any]:
    """`resolution`: as for `numeric_stats`."""
    counts, n_missing = category_counts(series)
    keys = list(ref.counts) + [k for k in counts if k not in ref.counts]
    r = np.array([ref.counts.get(k, 0) for k in keys], dtype=np.int64)
    c = np.array([counts.get(k, 0) for k in keys], dtype=np.int64)
    rows = len(series)
    n2 = int(c.sum())
    common: dict[str, Any] = {
        "feature": ref.name,
        "kind": "categorical",
        "psi": population_stability_index(
            np.append(r, ref.n_missing) / (ref.n + ref.n_missing),
            np.append(c, n_missing) / rows,
        ),
        "psi_reference_counts": np.append(r, ref.n_missing),
        "reference_n": ref.n,
        "current_n": n2,
        "reference_missing_share": ref.missing_share,
        "current_missing_share": n_missing / rows,
    }
    if ref.n == 0 or n2 == 0:
        return common | _untestable("chi2", "jensenshannon")
    return common | _discrete_tests(r, c, ref.n, resolution)


def _discrete_tests(
    r: np.ndarray, c: np.ndarray, n_ref: int, resolution: float = 1.0
) -> dict[str, Any]:
    """Counts per category (every category seen on at least one side)."""
    n1, n2 = int(r.sum()), int(c.sum())
    js = jensenshannon(r / n1, c / n2)
    if n_ref > EVIDENTLY_SMALL_REFERENCE:
        evidently = _distance_test("jensenshannon", js)
    elif r.size > EVIDENTLY_BINARY:
        expected = r * (n2 / n1)
        with np.errstate(divide="ignore", invalid="ignore"):
            chi = float(np.sum((c - expected) ** 2 / expected))
        p = float(stats.chi2.sf(chi, r.size - 1))
        evidently = _p_test("chisquare", chi, p, drifted=p < EVIDENTLY_P_VALUE)
    elif r.size == 1:
        evidently = _p_test("z", 0.0, 1.0, drifted=False)
    else:
        p1, p2 = r[1] / n1, c[1] / n2
        pooled = (r[1] + c[1]) / (n1 + n2)
        z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        # evidently's form, kept (rather than 2 * norm.sf) so that both round alike.
        p = float(2 * (1 - stats.norm.cdf(abs(z))))
        evidently = _p_test("z", z, p, drifted=p < EVIDENTLY_P_VALUE)

    return evidently | {
        "significance_test": "chi2",
        "significance_p_value": chi2_homogeneity_p_value(r, c, resolution),
        "effect": js,
        "effect_measure": "jensenshannon",
    }


def _p_test(name: str, statistic: float, p: float, drifted: bool) -> dict[str, Any]:
    return {
        "test": name,
        "statistic": float(statistic),
        "p_value": p,
        "threshold": EVIDENTLY_P_VALUE,
        "evidently_drifted": bool(drifted),
    }


def _distance_test(name: str, distance: float) -> dict[str, Any]:
    return {
        "test": name,
        "statistic": distance,
        "p_value": None,
        "threshold": EVIDENTLY_DISTANCE,
        "evidently_drifted": bool(distance >= EVIDENTLY_DISTANCE),
    }


def _untestable(significance_test: str, effect_measure: str) -> dict[str, Any]:
    """A side without values: no test; PSI (with its missing bin) still reports the change."""
    return {
        "test": "none",
        "statistic": math.nan,
        "p_value": None,
        "threshold": math.nan,
        "evidently_drifted": False,
        "significance_test": significance_test,
        "significance_p_value": math.nan,
        "effect": math.nan,
        "effect_measure": effect_measure,
    }
