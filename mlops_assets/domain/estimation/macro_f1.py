"""Expected macro F1 (NannyML's CBPE for any number of classes) with an interval built like the
accuracy's (cbpe.accuracy_interval): the realized macro F1's own sampling noise, and the
calibrator's uncertainty and shift bound (on both ends, as the accuracy's) carried over from
the accuracy through how much the macro F1 moves when every row's calibrated hit probability
moves.

Per class k, from calibrated probabilities c (rows x classes) and the predicted classes: P_k
rows predicted k, expected true positives T_k = sum of c_ik over those rows, expected true
count N_k = sum of c_ik over all rows, F1_k = 2 T_k / (P_k + N_k); the macro F1 is their mean,
as scikit-learn's f1_score(average="macro") over the model's classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from mlops_assets.domain.performance import DEFAULT_CONFIDENCE


@dataclass(frozen=True)
class MacroF1Estimate:
    """Expected macro F1 and its interval; `sensitivity` is d(macro F1) / d(accuracy) when
    every row's calibrated hit probability moves by the same amount (the map that carries
    the accuracy's calibration and shift terms over)."""

    n: int
    value: float
    low: float
    high: float
    sampling_sd: float
    calibration_sd: float
    shift: float
    sensitivity: float


def estimate_macro_f1(
    calibrated: np.ndarray,
    predicted_index: np.ndarray,
    *,
    calibration_sd: float = 0.0,
    shift: float = 0.0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> MacroF1Estimate:
    """Expected macro F1 of the rows whose calibrated probabilities are `calibrated` and whose
    predicted class positions are `predicted_index`; `calibration_sd` and `shift` are the
    same rows' accuracy interval's terms (cbpe.AccuracyInterval), which the macro F1's
    interval takes over through `sensitivity`.

    The sampling noise is the delta method's: each row's true class is drawn from its
    calibrated probabilities, independently, and the macro F1 is linearised in the per-class
    (T_k, N_k) at their expectations; O(rows x classes), no resampling."""
    c = np.asarray(calibrated, dtype=float)
    n, classes = c.shape
    if n == 0:
        raise ValueError("no rows to estimate on.")
    predicted = np.asarray(predicted_index, dtype=int)
    rows = np.arange(n)
    said = np.bincount(predicted, minlength=classes).astype(float)
    hits = np.bincount(predicted, weights=c[rows, predicted], minlength=classes)
    true = c.sum(axis=0)
    denominator = said + true
    # A class never predicted and (in expectation) never true adds nothing: as realized
    # performance does, it is left out of the mean.
    present = denominator > 0
    safe = np.where(present, denominator, 1.0)
    f1 = np.where(present, 2 * hits / safe, 0.0)
    k = int(present.sum())
    value = float(f1[present].mean())

    # Row i with true class j moves T_j (when j is its prediction) and N_j: its influence on
    # the macro F1 is a_j [j == predicted_i] - b_j.
    a = np.where(present, 2 / (k * safe), 0.0)
    b = np.where(present, 2 * hits / (k * safe**2), 0.0)
    influence = -np.broadcast_to(b, c.shape).copy()
    influence[rows, predicted] += a[predicted]
    mean = (c * influence).sum(axis=1)
    variance = float(((c * influence**2).sum(axis=1) - mean**2).sum())
    sampling = math.sqrt(max(variance, 0.0))

    # Every row's hit probability up by e, its other classes down in proportion: T_k rises by
    # e P_k, N_k by e P_k less what the rows predicted otherwise give up.
    p_hit = c[rows, predicted]
    rest = 1 - p_hit
    give = np.where(rest[:, None] > 0, c / np.where(rest > 0, rest, 1.0)[:, None], 0.0)
    give[rows, predicted] = 0.0
    d_true = said - give.sum(axis=0)
    sensitivity = float((a * said - b * d_true).sum())

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    calibration = abs(sensitivity) * calibration_sd
    bias = abs(sensitivity) * shift
    half = z * math.hypot(sampling, calibration)
    return MacroF1Estimate(
        n,
        value,
        max(0.0, value - half - bias),
        min(1.0, value + half + bias),
        sampling,
        calibration,
        bias,
        sensitivity,
    )
