"""Did the model's performance drop on a labelled day, beyond noise?

A day's accuracy (RMSE for a regressor) is a noisy estimate, and so is the champion's test
figure it is compared with: a 200-row day moves by several points by chance, while on 5000 rows
a 3.5-point drop is about ten standard errors. A fixed tolerance gets both wrong. The verdict
here is a significance test with a minimum effect:

- classification: the day's accuracy has a Wilson (binomial score) interval, the champion's test
  accuracy another one (from its `n_test` rows), and the drop (reference minus day) Newcombe's
  interval built from the two. A drop counts when it is larger than `min_effect` (accuracy
  points) *and* its interval lies above zero;
- regression: the day's RMSE has a percentile bootstrap interval (vectorised, fixed seed). The
  ratio day / reference is judged on the log scale, the reference's variance scaled from the
  day's by the row counts (same residual shape, fewer or more rows). A rise counts when it is
  larger than `min_effect` (relative: 0.01 = 1 %) *and* its interval lies above zero.

Pure numpy: no Dagster, MLflow or disk, so a unit test reaches every branch in milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import replace
from statistics import NormalDist
from typing import TYPE_CHECKING

from mlops_assets.domain.evaluation import Predictions, compute_metrics
from mlops_assets.domain.schemas import TaskType
from mlops_assets.domain.verdicts import Metric, PerformanceVerdict

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DEFAULT_MIN_EFFECT = 0.01
DEFAULT_CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 1000
# Elements of the (resamples x rows) index matrix drawn at once: bounded memory at any day size.
_BOOTSTRAP_CHUNK_ELEMENTS = 4_000_000
# A judged figure and its interval: (value, low, high).
_Interval = tuple[float, float, float]


def performance_metric(task: TaskType) -> Metric:
    """The metric a day is judged on: accuracy for a classifier, RMSE for a regressor."""
    return Metric.RMSE if task == "regression" else Metric.ACCURACY


def is_labelled(predictions: pd.DataFrame, target: str) -> bool:
    """Whether a predictions frame carries at least one label of the day."""
    return target in predictions.columns and bool(predictions[target].notna().any())


def judge_predictions(
    task: TaskType,
    target: str,
    predictions: pd.DataFrame,
    *,
    reference_value: float | None,
    reference_n: int | None,
    min_effect: float = DEFAULT_MIN_EFFECT,
    confidence: float = DEFAULT_CONFIDENCE,
) -> PerformanceVerdict:
    """The day's verdict from batch_predictions' frame: its `prediction` column against the
    labels in `target` (a day scored without labels is not judged)."""
    import numpy as np
    import pandas as pd

    labels = (
        predictions[target]
        if target in predictions.columns
        else pd.Series(np.nan, index=predictions.index)
    )
    return day_performance(
        task,
        labels,
        predictions["prediction"],
        reference_value=reference_value,
        reference_n=reference_n,
        min_effect=min_effect,
        confidence=confidence,
    )


def labels_by_value(values: pd.Series) -> pd.Series:
    """Class labels as canonical strings by their value: 1, 1.0, "1" and "1.0" are "1", 2.5
    and "2.5" are "2.5", whatever dtype the column was read as (an object column may mix them,
    as a CSV of ids and a JSON source do); other labels (and booleans) keep their own text.
    Missing values stay missing."""
    import numpy as np
    import pandas as pd

    present = values.dropna()
    if pd.api.types.is_bool_dtype(present):
        return present.astype(str).reindex(values.index)
    if pd.api.types.is_integer_dtype(present):
        # An integer's text is canonical (and a float detour would round ids above 2**53).
        return present.astype(str).reindex(values.index)
    as_text = present.astype(str)
    # A float column is its own numeric value: parsing its text again costs most of a join.
    numeric = (
        present.astype(float)
        if pd.api.types.is_float_dtype(present)
        else pd.to_numeric(as_text, errors="coerce")
    )
    if present.dtype == object:
        # A Python bool inside an object column is a boolean label, not the number 1 or 0.
        boolean = present.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
        numeric[boolean] = np.nan
    integral = np.isfinite(numeric) & (np.mod(numeric, 1) == 0)
    canonical = as_text.copy()
    canonical[integral] = numeric[integral].astype("int64").astype(str)
    fractional = numeric.notna() & ~integral
    canonical[fractional] = numeric[fractional].astype(str)
    return canonical.reindex(values.index)


def day_performance(
    task: TaskType,
    y_true: pd.Series,
    y_pred: pd.Series,
    *,
    reference_value: float | None,
    reference_n: int | None,
    min_effect: float = DEFAULT_MIN_EFFECT,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> PerformanceVerdict:
    """Judge one labelled day. Rows whose label is missing are left out (a partially labelled
    day is judged on its labelled rows); class labels are compared by value (`labels_by_value`),
    so 1, 1.0 and "1" are the same class whichever way the training file and the day were read."""
    import pandas as pd

    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence} must be in (0, 1).")
    if min_effect < 0:
        raise ValueError(f"min_effect={min_effect} must be >= 0.")
    metric = performance_metric(task)
    y_true = pd.Series(y_true).reset_index(drop=True)
    y_pred = pd.Series(y_pred).reset_index(drop=True)
    labelled = y_true.notna().to_numpy()
    n = int(labelled.sum())
    unjudged = PerformanceVerdict(
        metric=metric,
        n=n,
        day_value=None,
        day_ci_low=None,
        day_ci_high=None,
        reference_value=reference_value,
        reference_n=reference_n,
        difference=None,
        difference_ci_low=None,
        difference_ci_high=None,
        min_effect=min_effect,
        confidence=confidence,
        dropped=False,
        reason="no labelled rows this day; performance not judged",
    )
    if n == 0:
        return unjudged
    if task == "regression":
        truth = y_true[labelled].to_numpy(dtype=float)
        predicted = y_pred[labelled].to_numpy(dtype=float)
    else:
        truth = labels_by_value(y_true[labelled]).to_numpy()
        predicted = labels_by_value(y_pred[labelled]).to_numpy()
    value = compute_metrics(task, Predictions(truth, predicted, None, None))[metric]
    if reference_value is None or not math.isfinite(reference_value):
        low, high = (
            wilson(round(value * n), n, confidence)
            if metric == Metric.ACCURACY
            else _bootstrap_rmse(truth, predicted, confidence, seed)[:2]
        )
        return replace(
            unjudged,
            day_value=value,
            day_ci_low=low,
            day_ci_high=high,
            reference_value=None,
            reason=f"{metric} {value:.4g} on {n} rows; the champion records no test {metric} "
            "to compare with",
        )
    if metric == Metric.ACCURACY:
        day, difference, figures = _accuracy_figures(
            value, n, reference_value, reference_n, confidence
        )
        unit = "points"
    else:
        day, difference, figures = _rmse_figures(
            truth, predicted, reference_value, reference_n, confidence, seed
        )
        unit = "relative"
    worse, worse_low, worse_high = difference
    dropped = worse > min_effect and worse_low > 0
    return PerformanceVerdict(
        metric=metric,
        n=n,
        day_value=day[0],
        day_ci_low=day[1],
        day_ci_high=day[2],
        reference_value=reference_value,
        reference_n=reference_n,
        difference=worse,
        difference_ci_low=worse_low,
        difference_ci_high=worse_high,
        min_effect=min_effect,
        confidence=confidence,
        dropped=dropped,
        reason=_judged(figures, dropped, worse > min_effect, min_effect, unit),
    )


def _accuracy_figures(
    value: float, n: int, reference: float, reference_n: int | None, confidence: float
) -> tuple[_Interval, _Interval, str]:
    """The day's accuracy, the drop (reference minus day) with their intervals, as text."""
    day_low, day_high = wilson(round(value * n), n, confidence)
    if reference_n:
        ref_low, ref_high = wilson(round(reference * reference_n), reference_n, confidence)
    else:  # no row count recorded: the reference is taken as exact
        ref_low = ref_high = reference
    drop, drop_low, drop_high = newcombe_drop(
        (reference, ref_low, ref_high), (value, day_low, day_high)
    )
    level = f"{confidence:.0%}"
    figures = (
        f"accuracy {value:.3f} [{day_low:.3f}, {day_high:.3f}] on {n} rows vs champion "
        f"{reference:.3f} on {reference_n or 'unknown'} test rows: drop {drop:+.3f}, "
        f"{level} CI [{drop_low:+.3f}, {drop_high:+.3f}]"
    )
    return (value, day_low, day_high), (drop, drop_low, drop_high), figures


def _rmse_figures(
    truth: np.ndarray,
    predicted: np.ndarray,
    reference: float,
    reference_n: int | None,
    confidence: float,
    seed: int,
) -> tuple[_Interval, _Interval, str]:
    """The day's RMSE, its relative rise over the reference with their intervals, as text."""
    import numpy as np

    low, high, log_var = _bootstrap_rmse(truth, predicted, confidence, seed)
    n = len(truth)
    value = float(np.sqrt(np.mean((truth - predicted) ** 2)))
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    # The reference RMSE's own noise: the same residual shape on reference_n rows.
    ref_var = log_var * n / reference_n if reference_n else 0.0
    if value <= 0 or reference <= 0:
        ratio_low = ratio_high = (value - reference) / reference if reference > 0 else 0.0
        rise = ratio_low
    else:
        log_ratio = math.log(value / reference)
        spread = z * math.sqrt(log_var + ref_var)
        rise = value / reference - 1
        ratio_low, ratio_high = math.exp(log_ratio - spread) - 1, math.exp(log_ratio + spread) - 1
    figures = (
        f"rmse {value:.4g} [{low:.4g}, {high:.4g}] on {n} rows vs champion {reference:.4g} on "
        f"{reference_n or 'unknown'} test rows: rise {rise:+.1%}, {confidence:.0%} CI "
        f"[{ratio_low:+.1%}, {ratio_high:+.1%}]"
    )
    return (value, low, high), (rise, ratio_low, ratio_high), figures


def _judged(figures: str, dropped: bool, large: bool, min_effect: float, unit: str) -> str:
    if dropped:
        return f"performance dropped: {figures}"
    if not large:
        return f"performance held: {figures} (not beyond the minimum effect {min_effect:g} {unit})"
    return f"performance held: {figures} (within noise)"


def newcombe_drop(reference: _Interval, day: _Interval) -> _Interval:
    """Reference minus day with Newcombe's hybrid score interval for the difference of two
    independent proportions, each given as (value, low, high)."""
    drop = reference[0] - day[0]
    return (
        drop,
        drop - math.hypot(reference[0] - reference[1], day[2] - day[0]),
        drop + math.hypot(reference[2] - reference[0], day[0] - day[1]),
    )


def wilson(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion: sound near 0 and 1 and on small n."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _bootstrap_rmse(
    truth: np.ndarray, predicted: np.ndarray, confidence: float, seed: int
) -> tuple[float, float, float]:
    """Percentile interval of the RMSE over row resamples, and the variance of its log."""
    import numpy as np

    squared = (np.asarray(truth, dtype=float) - np.asarray(predicted, dtype=float)) ** 2
    n = len(squared)
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // n)
    rmse = np.empty(BOOTSTRAP_RESAMPLES)
    for start in range(0, BOOTSTRAP_RESAMPLES, chunk):
        size = min(chunk, BOOTSTRAP_RESAMPLES - start)
        rows = rng.integers(0, n, size=(size, n))
        rmse[start : start + size] = np.sqrt(squared[rows].mean(axis=1))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(rmse, [tail, 100 - tail])
    positive = rmse[rmse > 0]
    log_var = float(np.var(np.log(positive))) if len(positive) > 1 else 0.0
    return float(low), float(high), log_var
