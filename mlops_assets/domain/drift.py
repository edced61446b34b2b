"""Drift statistics and verdicts: the day's batch against its model version's training rows.

Pure numpy/scipy/pandas. The training side is summarised once per model version into a
`ReferenceProfile` (stored as JSON beside the model); each day only the batch is read, and the
numeric block is sorted once, so a day costs one sort per numeric column plus O(reference size)
work per column.

Two verdicts per feature
------------------------
``evidently_drifted`` is evidently 0.7's ``DataDriftPreset`` verdict with its default settings
(``evidently/legacy/calculations/stattests/registry.py::_get_default_stattest`` and the stattest
modules beside it), reproduced test for test so the two can be compared column by column.
``n`` is the number of non-missing reference values, ``k`` the number of distinct non-missing
values in reference and current together:

============================  ===========================  ============================
column                        reference n <= 1000          reference n > 1000
============================  ===========================  ============================
numeric, k > 5                ``ks``: two-sample KS,       ``wasserstein``: W1 / std of
                              drift if p <= 0.05           the reference, drift if >= 0.1
numeric, 3 <= k <= 5          ``chisquare``, p < 0.05      ``jensenshannon``, >= 0.1
numeric, k <= 2               ``z`` (two proportions),     ``jensenshannon``, >= 0.1
                              p < 0.05
categorical, k > 2            ``chisquare``, p < 0.05      ``jensenshannon``, >= 0.1
categorical, k <= 2           ``z``, p < 0.05              ``jensenshannon``, >= 0.1
============================  ===========================  ============================

The chi-square is evidently's goodness of fit (expected = reference counts scaled to the
current size); the Z-test uses the pooled proportion; the Wasserstein distance is divided by
``max(std, 0.001)`` of the reference (population std); Jensen-Shannon is the distance (square
root, natural log) between the category shares. Missing and infinite values are dropped for
the tests, as evidently does. evidently calls a dataset drifted when at least half the columns
drift (``drift_share`` 0.5). The reference n of the rule is the *true* count of non-missing
training values (`NumericReference.n`), even when the profile keeps only a sketch of them.

``drifted`` is ours, with false-alarm control. Every feature also gets a two-sample
significance test - KS for numeric columns with k > 5, a chi-square test of homogeneity (2 x k
table) for the others - whatever evidently's rule picked, so small batches cannot alarm on
noise. A feature drifts when both hold:

- its p-value survives Benjamini-Hochberg across all features of the day at FDR
  ``DriftConfig.fdr`` (0.05): on a day without drift, the chance of any false feature stays
  below 5 % however many features there are (evidently's per-column 0.05 on 15 features flags
  at least one on about half of such days when the reference is small);
- its effect reaches ``DriftConfig.min_effect`` (0.1): the normalised Wasserstein distance for
  numeric columns with k > 5, the Jensen-Shannon distance for the others - evidently's own
  distance thresholds - so that on large batches a tiny but "significant" shift does not count.

Severity
--------
PSI is reported for every feature: 10 bins at the reference deciles for numeric columns (equal
edges merged, bins closed on the left), one bin per category for categorical ones (categories
unseen in training get their own bin), plus one bin for missing values; empty bins count as
1e-4. Bands: < 0.1 ``stable``, 0.1-0.2 ``moderate``, >= 0.2 ``major``.

- ``critical`` (``dataset_drift``): at least ``critical_share`` (0.25) of the features drifted.
  evidently's 0.5 waits for half of the features; a real covariate shift moves a few related
  features (the built-in scenario moves 5 of 15), and a quarter is far above what a clean day
  produces under the control above.
- ``warning``: any feature drifted, or any PSI reached ``psi_major`` (0.2) - which also catches
  a column whose values went missing.
- ``none`` otherwise.

KS p-values are exact (scipy's own exact distribution) where scipy's ``ks_2samp`` would use it
and the reference has at most 1000 values (evidently's KS region), and Smirnov's asymptotic
distribution (``kstwo``) otherwise, as ``ks_2samp(method="asymp")``.
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats

FORMAT_VERSION = 1

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

PSI_BINS = 10
PSI_EPSILON = 1e-4
DEFAULT_MAX_REFERENCE_VALUES = 5000
"""Per numeric column: exact values up to this many distinct ones, a quantile sketch beyond."""

Kind = Literal["numeric", "categorical"]
Severity = Literal["none", "warning", "critical"]


class DriftInputError(ValueError):
    """The batch (or training frame) cannot be compared: a column is missing or not numeric."""


@dataclass(frozen=True)
class DriftConfig:
    """Our verdict's thresholds (evidently's rule has fixed ones, see the module docstring)."""

    fdr: float = 0.05
    """Benjamini-Hochberg false discovery rate across the features of one day."""
    min_effect: float = 0.1
    """Effect-size floor: normalised Wasserstein (numeric, k > 5) or Jensen-Shannon distance."""
    critical_share: float = 0.25
    """Share of drifted features at which the day is dataset drift, severity critical."""
    psi_moderate: float = 0.1
    """PSI from here on is a moderate shift."""
    psi_major: float = 0.2
    """PSI from here on is a major shift; one such feature makes the day a warning."""

    def __post_init__(self) -> None:
        for name in ("fdr", "critical_share"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"DriftConfig.{name} must be in (0, 1], got {value}")
        if self.min_effect < 0:
            raise ValueError(f"DriftConfig.min_effect must be >= 0, got {self.min_effect}")
        if not 0 <= self.psi_moderate <= self.psi_major:
            raise ValueError("DriftConfig needs 0 <= psi_moderate <= psi_major")


# --------------------------------------------------------------------------- reference profile


@dataclass(frozen=True, eq=False)
class NumericReference:
    """One numeric training column.

    `values`/`counts` are the sorted distinct values and their counts when the column has at
    most `max_reference_values` distinct values (then `counts.sum() == n`, exact); otherwise
    a deterministic quantile sketch: the values at the mid-quantiles (i + 0.5) / m, i < m,
    with multiplicities summing to m.
    """

    name: str
    n: int
    n_missing: int
    mean: float
    std: float
    n_unique: int
    values: np.ndarray
    counts: np.ndarray
    psi_edges: np.ndarray
    psi_counts: np.ndarray

    @property
    def exact(self) -> bool:
        return int(self.counts.sum()) == self.n

    @property
    def missing_share(self) -> float:
        total = self.n + self.n_missing
        return self.n_missing / total if total else 0.0


@dataclass(frozen=True, eq=False)
class CategoricalReference:
    """One categorical training column: counts of its (string) categories, and of missing."""

    name: str
    n: int
    n_missing: int
    counts: dict[str, int]

    @property
    def missing_share(self) -> float:
        total = self.n + self.n_missing
        return self.n_missing / total if total else 0.0


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """What the daily comparison needs from a model version's training rows."""

    n_rows: int
    numeric: tuple[NumericReference, ...]
    categorical: tuple[CategoricalReference, ...]
    max_reference_values: int = DEFAULT_MAX_REFERENCE_VALUES

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.numeric) + tuple(c.name for c in self.categorical)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT_VERSION,
                "n_rows": self.n_rows,
                "max_reference_values": self.max_reference_values,
                "array_encoding": "base64(zlib(byte-shuffled little-endian float64/int64))",
                "numeric": [
                    {
                        "name": c.name,
                        "n": c.n,
                        "n_missing": c.n_missing,
                        "mean": _finite_or_none(c.mean),
                        "std": _finite_or_none(c.std),
                        "n_unique": c.n_unique,
                        "psi_edges": c.psi_edges.tolist(),
                        "psi_counts": c.psi_counts.tolist(),
                        "size": int(c.values.size),
                        "values": _encode(c.values.astype("<f8")),
                        "counts": _encode(c.counts.astype("<i8")),
                    }
                    for c in self.numeric
                ],
                "categorical": [
                    {"name": c.name, "n": c.n, "n_missing": c.n_missing, "counts": c.counts}
                    for c in self.categorical
                ],
            },
            allow_nan=False,
        )

    @classmethod
    def from_json(cls, text: str) -> ReferenceProfile:
        data = json.loads(text)
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(
                f"reference profile format {data.get('format')!r} is not {FORMAT_VERSION}; "
                "retrain the model version to rebuild its profile"
            )
        numeric = tuple(
            NumericReference(
                name=c["name"],
                n=int(c["n"]),
                n_missing=int(c["n_missing"]),
                mean=_none_to_nan(c["mean"]),
                std=_none_to_nan(c["std"]),
                n_unique=int(c["n_unique"]),
                values=_decode(c["values"], np.dtype("<f8"), c["size"]),
                counts=_decode(c["counts"], np.dtype("<i8"), c["size"]),
                psi_edges=np.asarray(c["psi_edges"], dtype=np.float64),
                psi_counts=np.asarray(c["psi_counts"], dtype=np.int64),
            )
            for c in data["numeric"]
        )
        categorical = tuple(
            CategoricalReference(
                name=c["name"],
                n=int(c["n"]),
                n_missing=int(c["n_missing"]),
                counts={str(k): int(v) for k, v in c["counts"].items()},
            )
            for c in data["categorical"]
        )
        return cls(
            n_rows=int(data["n_rows"]),
            numeric=numeric,
            categorical=categorical,
            max_reference_values=int(data["max_reference_values"]),
        )


def build_reference_profile(
    train_frame: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    max_reference_values: int = DEFAULT_MAX_REFERENCE_VALUES,
) -> ReferenceProfile:
    """Summarise the training rows of a model version for `compute_drift`.

    Numeric columns keep their exact distinct values and counts when there are at most
    `max_reference_values` of them, else a quantile sketch of that many points (KS and
    Wasserstein against it are then within about 1 / max_reference_values of the exact
    ones). The JSON stays under ~1 MB for 25 continuous columns at the default 5000.
    """
    if max_reference_values < EVIDENTLY_SMALL_REFERENCE:
        raise ValueError(
            f"max_reference_values must be at least {EVIDENTLY_SMALL_REFERENCE} so that "
            f"references in evidently's KS region are kept whole, got {max_reference_values}"
        )
    _require_columns(train_frame, [*numeric, *categorical], "training frame")
    if len(train_frame) == 0:
        raise DriftInputError("the training frame has no rows; there is no reference to keep")
    block, n_valid = _sorted_numeric_block(train_frame, numeric)
    numeric_refs = tuple(
        _numeric_reference(name, block[i, : n_valid[i]], len(train_frame), max_reference_values)
        for i, name in enumerate(numeric)
    )
    categorical_refs = []
    for name in categorical:
        counts, n_missing = _category_counts(train_frame[name])
        ordered = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        categorical_refs.append(
            CategoricalReference(name, sum(ordered.values()), n_missing, ordered)
        )
    return ReferenceProfile(
        n_rows=len(train_frame),
        numeric=numeric_refs,
        categorical=tuple(categorical_refs),
        max_reference_values=max_reference_values,
    )


def _numeric_reference(
    name: str, values: np.ndarray, n_rows: int, max_values: int
) -> NumericReference:
    """`values`: the column's finite values, sorted."""
    n = values.size
    if n == 0:
        nothing = np.empty(0)
        return NumericReference(
            name=name,
            n=0,
            n_missing=n_rows,
            mean=math.nan,
            std=math.nan,
            n_unique=0,
            values=nothing,
            counts=np.empty(0, dtype=np.int64),
            psi_edges=nothing,
            psi_counts=np.zeros(1, dtype=np.int64),
        )
    distinct, counts = _runs(values)
    if distinct.size > max_values:
        picks = values[((np.arange(max_values) + 0.5) * n / max_values).astype(np.int64)]
        distinct, counts = _runs(picks)
    edges = np.unique(_sorted_quantiles(values, np.arange(1, PSI_BINS) / PSI_BINS))
    return NumericReference(
        name=name,
        n=n,
        n_missing=n_rows - n,
        mean=float(np.mean(values)),
        std=float(np.std(values)),
        n_unique=int(np.count_nonzero(np.diff(values)) + 1),
        values=distinct,
        counts=counts,
        psi_edges=edges,
        psi_counts=_bin_counts(values, edges),
    )


# ------------------------------------------------------------------------------ the comparison


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
    drifted: bool
    """Our verdict: q_value <= fdr and effect >= min_effect."""
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

    def to_frame(self) -> pd.DataFrame:
        """One row per feature, for the report table."""
        columns = (
            "feature",
            "kind",
            "test",
            "statistic",
            "p_value",
            "threshold",
            "psi",
            "psi_band",
            "effect",
            "q_value",
            "evidently_drifted",
            "drifted",
            "current_n",
            "current_missing_share",
            "reference_missing_share",
        )
        return pd.DataFrame(
            [{c: getattr(f, c) for c in columns} for f in self.features], columns=list(columns)
        )


def compute_drift(
    profile: ReferenceProfile,
    current_frame: pd.DataFrame,
    config: DriftConfig | None = None,
) -> DriftResult:
    """Compare one batch with the reference profile; see the module docstring for the rules."""
    config = config or DriftConfig()
    if len(current_frame) == 0:
        raise DriftInputError("the current batch has no rows; nothing to compare")
    _require_columns(current_frame, profile.feature_names, "current batch")
    names = [c.name for c in profile.numeric]
    block, n_valid = _sorted_numeric_block(current_frame, names)
    rows = len(current_frame)
    partial = [
        _numeric_stats(ref, block[i, : n_valid[i]], rows) for i, ref in enumerate(profile.numeric)
    ]
    partial += [_categorical_stats(ref, current_frame[ref.name]) for ref in profile.categorical]

    q_values = benjamini_hochberg(np.array([p["significance_p_value"] for p in partial]))
    features = []
    for stats_, q in zip(partial, q_values, strict=True):
        drifted = bool(q <= config.fdr and stats_["effect"] >= config.min_effect)
        features.append(
            FeatureDrift(
                **stats_,
                q_value=float(q),
                psi_band=psi_band(stats_["psi"], config),
                drifted=drifted,
            )
        )
    count = len(features)
    drifted_share = sum(f.drifted for f in features) / count if count else 0.0
    evidently_share = sum(f.evidently_drifted for f in features) / count if count else 0.0
    max_psi = max((f.psi for f in features), default=0.0)
    dataset_drift = count > 0 and drifted_share >= config.critical_share
    if dataset_drift:
        severity: Severity = "critical"
    elif any(f.drifted for f in features) or max_psi >= config.psi_major:
        severity = "warning"
    else:
        severity = "none"
    return DriftResult(
        features=tuple(features),
        drifted_share=drifted_share,
        severity=severity,
        dataset_drift=dataset_drift,
        evidently_drifted_share=evidently_share,
        evidently_dataset_drift=count > 0 and evidently_share >= EVIDENTLY_DRIFT_SHARE,
        max_psi=max_psi,
        current_rows=rows,
    )


def prediction_drift(
    reference_scores: np.ndarray,
    current_scores: np.ndarray,
    config: DriftConfig | None = None,
) -> FeatureDrift:
    """Drift of the model's score (positive-class probability or prediction) as a numeric
    feature named "prediction", with the same tests, PSI and verdict as the features."""
    profile = build_reference_profile(
        pd.DataFrame({"prediction": np.asarray(reference_scores, dtype=np.float64)}),
        ("prediction",),
        (),
    )
    current = pd.DataFrame({"prediction": np.asarray(current_scores, dtype=np.float64)})
    return compute_drift(profile, current, config).features[0]


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN stays NaN and is not counted."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    valid = ~np.isnan(p)
    m = int(valid.sum())
    if m == 0:
        return out
    order = np.argsort(p[valid])
    ranked = p[valid][order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    q = np.empty(m)
    q[order] = adjusted
    out[valid] = q
    return out


def population_stability_index(
    reference_share: np.ndarray, current_share: np.ndarray, epsilon: float = PSI_EPSILON
) -> float:
    """sum((c - r) * ln(c / r)) over bins, empty bins counted as `epsilon`."""
    r = np.where(np.asarray(reference_share) > 0, reference_share, epsilon)
    c = np.where(np.asarray(current_share) > 0, current_share, epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_band(psi: float, config: DriftConfig | None = None) -> str:
    config = config or DriftConfig()
    if psi >= config.psi_major:
        return "major"
    if psi >= config.psi_moderate:
        return "moderate"
    return "stable"


# -------------------------------------------------------------------------- per-feature tests


def _numeric_stats(ref: NumericReference, y: np.ndarray, rows: int) -> dict[str, Any]:
    """`y`: the batch's finite values of the column, sorted."""
    n2 = y.size
    ref_bins = np.append(ref.psi_counts, ref.n_missing) / (ref.n + ref.n_missing)
    cur_bins = np.append(_bin_counts(y, ref.psi_edges), rows - n2) / rows
    common: dict[str, Any] = {
        "feature": ref.name,
        "kind": "numeric",
        "psi": population_stability_index(ref_bins, cur_bins),
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
        distinct, counts = _runs(y)
        keys = np.union1d(ref.values, distinct)
        if keys.size <= EVIDENTLY_LOW_CARDINALITY:
            r = np.zeros(keys.size, dtype=np.int64)
            c = np.zeros(keys.size, dtype=np.int64)
            r[np.searchsorted(keys, ref.values)] = ref.counts
            c[np.searchsorted(keys, distinct)] = counts
            return common | _discrete_tests(r, c, ref.n)
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


def wasserstein_1(x: np.ndarray, cdf: np.ndarray, y: np.ndarray) -> float:
    """W1 between a reference (distinct sorted values `x`, ECDF `cdf` at them) and a sorted
    batch `y`: the integral of |F_ref - F_cur| in O(m log n) after one read of `y`.

    With c(t) the batch count <= t and S(c) the sum of its c smallest values, the integral of
    F_cur from -inf to t is (c(t) t - S(c(t))) / n. On each [x_i, x_i+1) F_ref is the constant
    a_i; F_cur crosses it at s_i (its ceil(a_i n)-th value, clipped to the interval), so the
    piece is a_i (s_i - x_i) - int(F_cur, x_i, s_i) + int(F_cur, s_i, x_i+1) - a_i (x_i+1 -
    s_i); the tails before x_0 (F_ref = 0) and after x_m (F_ref = 1) close it.

    Merging the reference into the batch (scipy's way) writes several arrays of the batch's
    size; this reads it once (`make bench`: 4.1x the sort floor merged, 1.8x here). The prefix
    sums cost precision far from zero: about 1e-8 relative at a mean of 1e6 standard deviations.
    """
    n = y.size
    a = cdf[:-1]
    lo, hi = x[:-1], x[1:]
    k = np.ceil(a * n - 1e-9).astype(np.int64)
    crossing = np.where(k >= 1, y[np.clip(k - 1, 0, n - 1)], -np.inf)
    s = np.clip(crossing, lo, hi)
    points = np.concatenate((x, s))
    counts = np.searchsorted(y, points, side="right")
    cuts = np.unique(counts)
    starts = np.r_[0, cuts[(cuts > 0) & (cuts < n)]]
    prefix = np.r_[0.0, np.cumsum(np.add.reduceat(y, starts))]  # S at 0, starts[1:], n
    sums = prefix[np.searchsorted(np.r_[starts, n], counts)]
    integral = (counts * points - sums) / n
    at_x, at_s = integral[: x.size], integral[x.size :]
    inner = a * (s - lo) - (at_s - at_x[:-1]) + (at_x[1:] - at_s) - a * (hi - s)
    last = counts[x.size - 1]
    right_tail = (prefix[-1] - sums[x.size - 1] - (n - last) * x[-1]) / n
    return float(inner.sum() + at_x[0] + right_tail)


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


def _categorical_stats(ref: CategoricalReference, series: pd.Series) -> dict[str, Any]:
    counts, n_missing = _category_counts(series)
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
        "reference_n": ref.n,
        "current_n": n2,
        "reference_missing_share": ref.missing_share,
        "current_missing_share": n_missing / rows,
    }
    if ref.n == 0 or n2 == 0:
        return common | _untestable("chi2", "jensenshannon")
    return common | _discrete_tests(r, c, ref.n)


def _discrete_tests(r: np.ndarray, c: np.ndarray, n_ref: int) -> dict[str, Any]:
    """Counts per category (every category seen on at least one side)."""
    n1, n2 = int(r.sum()), int(c.sum())
    js = _jensenshannon(r / n1, c / n2)
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

    if r.size < 2:
        homogeneity_p = 1.0
    else:
        table = np.vstack([r, c]).astype(np.float64)
        expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
        chi = float(np.sum((table - expected) ** 2 / expected))
        homogeneity_p = float(stats.chi2.sf(chi, r.size - 1))
    return evidently | {
        "significance_test": "chi2",
        "significance_p_value": homogeneity_p,
        "effect": js,
        "effect_measure": "jensenshannon",
    }


def _jensenshannon(p: np.ndarray, q: np.ndarray) -> float:
    """scipy.spatial.distance.jensenshannon (natural log) of two share vectors."""
    p, q = p / p.sum(), q / q.sum()
    mid = (p + q) / 2
    divergence = np.sum(special.rel_entr(p, mid)) + np.sum(special.rel_entr(q, mid))
    return float(math.sqrt(max(divergence / 2, 0.0)))


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


# ------------------------------------------------------------------------------------ helpers


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DriftInputError(
            f"{what} lacks the columns {missing}; it has {list(frame.columns)}. Drift is "
            "measured on the features of the model version's schema."
        )


def _sorted_numeric_block(frame: pd.DataFrame, names: Sequence[str]) -> tuple[np.ndarray, Any]:
    """All numeric columns as one (columns, rows) float array, each row sorted with its
    missing and infinite values (as NaN) at the end; and the count of finite values."""
    block = np.empty((len(names), len(frame)), dtype=np.float64)
    for i, name in enumerate(names):
        try:
            block[i] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as error:
            raise DriftInputError(
                f"column {name!r} should be numeric but has dtype {frame[name].dtype}: {error}"
            ) from error
    block[np.isinf(block)] = np.nan
    n_valid = len(frame) - np.count_nonzero(np.isnan(block), axis=1)
    block.sort(axis=1)
    return block, n_valid


def _category_counts(series: pd.Series) -> tuple[dict[str, int], int]:
    """Counts of the non-missing categories as strings, and the number of missing values.

    Whole floats are written as integers, so a code column read as float (because it has
    missing values) matches the same column read as int.
    """
    present = series.dropna()
    if pd.api.types.is_float_dtype(present.dtype) and bool(
        np.all(np.mod(present.to_numpy(), 1) == 0)
    ):
        present = present.astype(np.int64)
    counts = present.astype(str).value_counts(sort=False)
    return {str(k): int(v) for k, v in counts.items()}, len(series) - len(present)


def _runs(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and their counts."""
    if sorted_values.size == 0:
        return sorted_values, np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    return sorted_values[starts], np.diff(np.r_[starts, sorted_values.size]).astype(np.int64)


def _sorted_quantiles(sorted_values: np.ndarray, q: np.ndarray) -> np.ndarray:
    """np.quantile(method="linear") of an already sorted array."""
    position = q * (sorted_values.size - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, sorted_values.size - 1)
    fraction = position - below
    return sorted_values[below] * (1 - fraction) + sorted_values[above] * fraction


def _bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts in the bins (-inf, e0), [e0, e1), ..., [e_last, inf) of a sorted array."""
    cuts = np.searchsorted(sorted_values, edges, side="left")
    return np.diff(np.r_[0, cuts, sorted_values.size]).astype(np.int64)


def _encode(array: np.ndarray) -> str:
    # Byte-shuffling groups the similar high bytes of sorted numbers: zlib then saves ~25 %.
    shuffled = np.ascontiguousarray(array).view(np.uint8).reshape(-1, array.itemsize).T
    return base64.b64encode(zlib.compress(shuffled.tobytes(), 6)).decode("ascii")


def _decode(text: str, dtype: np.dtype, size: int) -> np.ndarray:
    raw = np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=np.uint8)
    return raw.reshape(dtype.itemsize, size).T.copy().view(dtype).reshape(size)


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _none_to_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


__all__ = [
    "CategoricalReference",
    "DriftConfig",
    "DriftInputError",
    "DriftResult",
    "FeatureDrift",
    "NumericReference",
    "ReferenceProfile",
    "benjamini_hochberg",
    "build_reference_profile",
    "compute_drift",
    "population_stability_index",
    "prediction_drift",
    "psi_band",
]
