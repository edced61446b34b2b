"""Confidence-based performance estimation (NannyML's CBPE) from calibrated probabilities.

Assumes the calibrated probabilities are right on the day: true under covariate shift (x moves,
P(y|x) fixed) inside the training support, false under concept shift, which it cannot see.
The calibration is a function of the model's score only, so under covariate shift it holds
only where the day's rows look like the reference's at the same score; the interval widens,
on both ends, with the share of the day that moved away from the reference
(docs/monitoring.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from mlops_assets.domain.estimation.calibration import ReferenceBins
from mlops_assets.domain.estimation.macro_f1 import estimate_macro_f1
from mlops_assets.domain.performance import (
    DEFAULT_CONFIDENCE,
    DEFAULT_MIN_EFFECT,
    newcombe_drop,
    wilson,
)

DEFAULT_MAX_ECE = 0.05
DEFAULT_MAX_OUT_OF_SUPPORT = 0.25


@dataclass(frozen=True)
class ClassificationEstimate:
    """Expected accuracy and macro F1 with their intervals; for a binary model also the
    expected confusion matrix's precision, recall, F1 and the expected ROC AUC (None for
    multiclass). `accuracy_noise_half` is the accuracy interval's half-width without the
    shift bound (sampling and calibration only): what the drop rule reads."""

    n: int
    accuracy: float
    accuracy_low: float
    accuracy_high: float
    f1_macro: float
    f1_macro_low: float
    f1_macro_high: float
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    roc_auc: float | None = None
    interval_basis: str = ""
    accuracy_noise_half: float | None = None


@dataclass(frozen=True)
class AccuracyInterval:
    """Expected accuracy and what its interval is made of: `sampling_sd` the realized
    accuracy's own noise at the day's size, `calibration_sd` the calibrator's from its finite
    reference, `shift` a bias bound on both ends for the rows that moved away from the
    reference (not a standard deviation), `statistical_half` z times the combined standard
    deviation."""

    n: int
    accuracy: float
    low: float
    high: float
    sampling_sd: float
    calibration_sd: float
    shift: float
    basis: str
    statistical_half: float


OLD_ARTEFACT_BASIS = (
    "sampling noise only (Poisson-binomial): the calibrator was recorded before reference "
    "bins existed, so the calibration's and the shift's uncertainty are left out; retrain "
    "for the full interval"
)


def accuracy_interval(
    p_hit: np.ndarray,
    raw: np.ndarray | None = None,
    reference: ReferenceBins | None = None,
    *,
    out_of_support: float = 0.0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> AccuracyInterval:
    """Interval of the day's accuracy from `p_hit`, each row's calibrated probability that
    the model's prediction is right, and `raw` the model's own probabilities (rows x classes).

    With `reference` (the validation split's confidence bins): sampling variance a(1-a)/n at
    the estimate a (the binomial that realized_performance's Wilson interval uses), plus the
    calibration variance sum_b w_b^2 p_b(1-p_b)/n_b, and a shift bound added to both ends.
    The calibration is a function of the score only; under covariate shift it holds for a
    row whose score the reference filled with rows like it, not for a row that moved. The
    bound assumes the calibrated probability of a moved row is off by at most that row's own
    Bernoulli standard deviation, in either direction (measured on employment_MA's age
    bands: the model is overconfident on some, underconfident on others): the day's excess
    share over the reference per confidence bin times the mean sqrt(p(1-p)) of its rows
    there (`ReferenceBins.moved_spread`), plus the out-of-support share times sqrt(a(1-a)),
    at most sqrt(a(1-a)) (every row moved). Without `reference` (an older artefact): the
    Poisson-binomial variance sum p(1-p)/n^2 alone, as before, and `basis` says so."""
    p_hit = np.asarray(p_hit, dtype=float)
    n = len(p_hit)
    if n == 0:
        raise ValueError("no rows to estimate on.")
    accuracy = float(p_hit.mean())
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    if reference is None or raw is None:
        sampling = math.sqrt(float((p_hit * (1 - p_hit)).sum())) / n
        calibration = shift = 0.0
        basis = OLD_ARTEFACT_BASIS
    else:
        sampling = math.sqrt(accuracy * (1 - accuracy) / n)
        calibration = math.sqrt(reference.calibration_variance(raw))
        moved = min(1.0, reference.total_variation(raw) + out_of_support)
        spread = math.sqrt(accuracy * (1 - accuracy))
        shift = min(spread, reference.moved_spread(raw, p_hit) + out_of_support * spread)
        basis = (
            f"sampling noise of {n} rows, calibration on {sum(reference.counts)} reference "
            f"rows, and {moved:.0%} of rows moved away from the reference"
        )
    half = z * math.sqrt(sampling**2 + calibration**2)
    return AccuracyInterval(
        n,
        accuracy,
        max(0.0, accuracy - half - shift),
        min(1.0, accuracy + half + shift),
        sampling,
        calibration,
        shift,
        basis,
        half,
    )


def estimate_classification(
    calibrated: np.ndarray,
    predicted_index: np.ndarray,
    *,
    raw_positive_score: np.ndarray | None = None,
    raw: np.ndarray | None = None,
    reference: ReferenceBins | None = None,
    out_of_support: float = 0.0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> ClassificationEstimate:
    """Estimate from calibrated probabilities (rows x classes) and the model's predicted class
    positions: accuracy is a mean of independent Bernoullis with the calibrated probabilities
    of the predicted class; the interval is `accuracy_interval`'s, the macro F1's
    `estimate_macro_f1`'s (with `raw`, the model's own
    probabilities, and `reference` for the full one). `raw_positive_score` (binary) ranks rows
    for the expected AUC; the calibrated positive probability is used when it is not given."""
    calibrated = np.asarray(calibrated, dtype=float)
    n = len(calibrated)
    if n == 0:
        raise ValueError("no rows to estimate on.")
    p_hit = calibrated[np.arange(n), np.asarray(predicted_index, dtype=int)]
    interval = accuracy_interval(
        p_hit, raw, reference, out_of_support=out_of_support, confidence=confidence
    )
    accuracy, low, high = interval.accuracy, interval.low, interval.high
    macro = estimate_macro_f1(
        calibrated,
        predicted_index,
        calibration_sd=interval.calibration_sd,
        shift=interval.shift,
        confidence=confidence,
    )
    figures = (n, accuracy, low, high, macro.value, macro.low, macro.high)
    noise = interval.statistical_half
    if calibrated.shape[1] != 2:
        return ClassificationEstimate(
            *figures, interval_basis=interval.basis, accuracy_noise_half=noise
        )
    positive = calibrated[:, 1]
    said_positive = np.asarray(predicted_index) == 1
    tp = float(positive[said_positive].sum())
    fp = float((1 - positive[said_positive]).sum())
    fn = float(positive[~said_positive].sum())
    score = positive if raw_positive_score is None else np.asarray(raw_positive_score, float)
    return ClassificationEstimate(
        *figures,
        precision=tp / (tp + fp) if tp + fp > 0 else None,
        recall=tp / (tp + fn) if tp + fn > 0 else None,
        f1=2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else None,
        roc_auc=expected_roc_auc(positive, score),
        interval_basis=interval.basis,
        accuracy_noise_half=noise,
    )


@dataclass(frozen=True)
class ProgressiveEstimate:
    """The day's accuracy while its labels land: realized on the labelled rows, estimated on
    the rest, one interval."""

    n: int
    labelled: int
    accuracy: float
    low: float
    high: float


def progressive_accuracy(
    p_hit: np.ndarray,
    right: np.ndarray,
    labelled: np.ndarray,
    raw: np.ndarray | None = None,
    reference: ReferenceBins | None = None,
    *,
    out_of_support: float = 0.0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> ProgressiveEstimate:
    """Combine the realized accuracy of the `labelled` rows (whether each prediction was
    `right`, read only there) with the estimate on the others, weighted by their shares m/n
    and u/n. Each side of the interval adds the two parts' statistical half-widths in
    quadrature (the labelled part's from its Wilson interval, so the bounds are exactly
    realized_performance's when every row is labelled); both ends also take the
    unlabelled part's shift bound, scaled by its share. With no label it is
    `accuracy_interval`'s; it narrows as labels land at the estimated rate, since the
    calibration and shift terms shrink with the unlabelled share."""
    p_hit = np.asarray(p_hit, dtype=float)
    labelled = np.asarray(labelled, dtype=bool)
    n, m = len(p_hit), int(labelled.sum())
    if n == 0:
        raise ValueError("no rows to estimate on.")
    if m == 0:
        full = accuracy_interval(
            p_hit, raw, reference, out_of_support=out_of_support, confidence=confidence
        )
        return ProgressiveEstimate(n, 0, full.accuracy, full.low, full.high)
    hits = int(np.asarray(right, dtype=bool)[labelled].sum())
    known = hits / m
    wilson_low, wilson_high = wilson(hits, m, confidence)
    if m == n:
        return ProgressiveEstimate(n, m, known, wilson_low, wilson_high)
    rest = accuracy_interval(
        p_hit[~labelled],
        None if raw is None else np.asarray(raw)[~labelled],
        reference,
        out_of_support=out_of_support,
        confidence=confidence,
    )
    a, b = m / n, (n - m) / n
    accuracy = a * known + b * rest.accuracy
    below = math.hypot(a * (known - wilson_low), b * rest.statistical_half)
    above = math.hypot(a * (wilson_high - known), b * rest.statistical_half)
    return ProgressiveEstimate(
        n,
        m,
        accuracy,
        max(0.0, accuracy - below - b * rest.shift),
        min(1.0, accuracy + above + b * rest.shift),
    )


def expected_roc_auc(positive: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC expected when row i is positive with probability positive[i]: every (i, j)
    pair weighted p_i (1 - p_j), counted when score i ranks above j (ties half). One sort:
    O(n log n)."""
    order = np.argsort(score, kind="mergesort")
    p, s = positive[order], score[order]
    negative = 1 - p
    # Negative weight strictly below each row, and within its tie group (counted half).
    _, first, counts = np.unique(s, return_index=True, return_counts=True)
    cum_negative = np.concatenate([[0.0], np.cumsum(negative)])
    below = np.repeat(cum_negative[first], counts)
    tied = np.repeat(cum_negative[first + counts] - cum_negative[first], counts) - negative
    numerator = float((p * (below + tied / 2)).sum())
    denominator = float(p.sum() * negative.sum() - (p * negative).sum())
    return numerator / denominator if denominator > 0 else None


def out_of_support_share(
    numeric: dict[str, np.ndarray],
    ranges: dict[str, tuple[float, float]],
    categorical: dict[str, np.ndarray],
    known: dict[str, frozenset[str]],
) -> float:
    """Share of rows with a numeric feature outside its training range or a category the
    training rows never had (missing values count as inside: the imputer handles them)."""
    outside: np.ndarray | None = None
    for name, values in numeric.items():
        lo, hi = ranges[name]
        v = np.asarray(values, dtype=float)
        row = (v < lo) | (v > hi)
        outside = row if outside is None else outside | row
    for name, values in categorical.items():
        strings = np.asarray(values, dtype=object)
        present = np.array([x is not None and x == x for x in strings], dtype=bool)
        row = present & ~np.isin(strings.astype(str), list(known[name]))
        outside = row if outside is None else outside | row
    return 0.0 if outside is None or len(outside) == 0 else float(outside.mean())


def judge_estimate(
    estimate: ClassificationEstimate,
    *,
    ece_after: float,
    out_of_support: float,
    reference_value: float | None,
    reference_n: int | None,
    max_ece: float = DEFAULT_MAX_ECE,
    max_out_of_support: float = DEFAULT_MAX_OUT_OF_SUPPORT,
    min_effect: float = DEFAULT_MIN_EFFECT,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[bool, str, bool, str]:
    """(trusted, trust reason, dropped, reason). The drop rule is drift_report's: reference
    minus estimate above `min_effect` and its Newcombe interval above 0, with the estimate's
    interval of noise alone (sampling and calibration, `accuracy_noise_half`). It asks
    whether the estimate fell beyond its own noise, i.e. whether the day's rows moved to
    scores the model is right less often at; the shift bound, which can move the realized
    accuracy either way, is in the interval the reason shows, not in the rule, and labels
    settle it (the retraining sensor waits for them). Untrusted: no drop."""
    if not math.isfinite(ece_after) or ece_after > max_ece:
        trusted, why = (
            False,
            f"calibration poor on the reference: ECE {ece_after:.3f} > {max_ece:g}",
        )
    elif out_of_support > max_out_of_support:
        trusted, why = (
            False,
            f"{out_of_support:.0%} of rows outside the training support "
            f"(> {max_out_of_support:.0%})",
        )
    else:
        trusted, why = (
            True,
            (f"calibrated (ECE {ece_after:.3f}), {out_of_support:.0%} of rows outside support"),
        )
    est = f"estimated accuracy {estimate.accuracy:.3f} [{estimate.accuracy_low:.3f}, " + (
        f"{estimate.accuracy_high:.3f}] on {estimate.n} rows"
    )
    noise_low, noise_high = estimate.accuracy_low, estimate.accuracy_high
    half = estimate.accuracy_noise_half
    if half is not None:
        noise_low, noise_high = (
            max(0.0, estimate.accuracy - half),
            min(1.0, estimate.accuracy + half),
        )
        if (noise_low, noise_high) != (estimate.accuracy_low, estimate.accuracy_high):
            est += f" (noise alone [{noise_low:.3f}, {noise_high:.3f}])"
    if reference_value is None or not math.isfinite(reference_value):
        return trusted, why, False, f"{est}; no test accuracy to compare with"
    if reference_n:
        ref_low, ref_high = wilson(round(reference_value * reference_n), reference_n, confidence)
    else:
        ref_low = ref_high = reference_value
    drop, low, high = newcombe_drop(
        (reference_value, ref_low, ref_high),
        (estimate.accuracy, noise_low, noise_high),
    )
    figures = f"{est} vs test {reference_value:.3f}: drop {drop:+.3f} [{low:+.3f}, {high:+.3f}]"
    beyond = drop > min_effect and low > 0
    if beyond and not trusted:
        return trusted, why, False, f"estimate untrusted ({why}); {figures}"
    return trusted, why, beyond, ("estimated drop: " if beyond else "estimate held: ") + figures
