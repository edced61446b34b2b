"""Package changes the profiles point to, measured here before anyone makes them: the
benchmarks patch them in, in their own process only, beside the package as it is. Delete each
one when the package adopts it.

- `one_pass_predict_frame` for `mlops_assets.domain.training.predict_frame`: one pass through
  the pipeline for classifiers (`predict_proba`, label = argmax), not `predict` then
  `predict_proba`. For sklearn's tree ensembles the argmax is exactly how `predict` decides.
- `continuous_tests` for `mlops_assets.domain.drift._continuous_tests`: the same KS statistic
  and a Wasserstein distance computed at the reference points only, from sums of the sorted
  batch between them (`np.add.reduceat`, which reads the batch once and writes nothing of its
  size), instead of merging the reference into the batch (`np.insert`) and taking a cumulative
  sum, an absolute value, a difference and a dot product over all n + m points.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops_assets.domain import drift


def one_pass_predict_frame(pipeline: Any, frame: Any, task: str) -> tuple[Any, Any, Any]:
    if task == "regression":
        return np.asarray(pipeline.predict(frame)), None, None
    proba = np.asarray(pipeline.predict_proba(frame))
    classes = np.asarray(pipeline.classes_)
    return classes[proba.argmax(axis=1)], proba, tuple(pipeline.classes_)


def continuous_tests(ref: drift.NumericReference, y: np.ndarray) -> dict[str, Any]:
    """`drift._continuous_tests` with `wasserstein_1` in place of the merged-array integral."""
    x, w = ref.values, ref.counts
    m, n2 = int(w.sum()), y.size
    left = np.searchsorted(y, x, side="left")
    right = np.searchsorted(y, x, side="right")
    cum = np.cumsum(w)
    at_x = np.abs(cum * n2 - right * m)
    before_x = np.abs((cum - w) * n2 - left * m)
    i_at, i_before = int(np.argmax(at_x)), int(np.argmax(before_x))
    if at_x[i_at] >= before_x[i_before]:
        ref_count, cur_count = int(cum[i_at]), int(right[i_at])
    else:
        ref_count, cur_count = int(cum[i_before] - w[i_before]), int(left[i_before])
    d = abs(ref_count * n2 - cur_count * m) / (m * n2)
    ks_p = drift._ks_p_value(d, ref, ref_count, cur_count, n2)

    w1_norm = wasserstein_1(x, cum / m, y) / max(ref.std, drift.WASSERSTEIN_MIN_STD)
    if ref.n <= drift.EVIDENTLY_SMALL_REFERENCE:
        evidently = drift._p_test("ks", d, ks_p, drifted=ks_p <= drift.EVIDENTLY_P_VALUE)
    else:
        evidently = drift._distance_test("wasserstein", w1_norm)
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
