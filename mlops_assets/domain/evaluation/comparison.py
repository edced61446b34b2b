"""Champion against challenger on the same rows: a paired bootstrap interval of the mean loss
difference, overall and per slice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_assets.domain.evaluation.metrics import check_aligned, slice_groups, slice_labels

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# Elements of the (resamples x rows) index matrix drawn at once: bounds the bootstrap's memory
# to about 64 MB whatever the test-split size.
_BOOTSTRAP_CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class PairedComparison:
    """Champion and challenger losses on the same rows, with a bootstrap interval of the gain.

    `improvement` is champion mean loss minus challenger mean loss: positive means the
    challenger is better. The interval is a percentile interval of that difference.
    """

    metric: str
    n: int
    champion_loss: float
    challenger_loss: float
    improvement: float
    ci_low: float
    ci_high: float
    confidence: float

    def describe(self) -> str:
        """E.g. "improvement +0.0012 in log_loss, 95% CI [-0.004, +0.006]"."""
        return (
            f"improvement {self.improvement:+.3g} in {self.metric}, "
            f"{self.confidence:.0%} CI [{self.ci_low:+.3g}, {self.ci_high:+.3g}]"
        )


def paired_bootstrap(
    champion_loss: np.ndarray,
    challenger_loss: np.ndarray,
    *,
    metric: str,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Percentile bootstrap interval of the mean per-row loss difference, rows resampled in pairs.

    Both models are scored on the same rows, so resampling row indices (the same indices for
    both) keeps the pairing: row difficulty cancels and the interval is much tighter than
    comparing two independent means.
    """
    import numpy as np

    champion = np.asarray(champion_loss, dtype=float)
    challenger = np.asarray(challenger_loss, dtype=float)
    if champion.ndim != 1 or challenger.ndim != 1 or len(champion) != len(challenger):
        raise ValueError(
            f"champion_loss {champion.shape} and challenger_loss {challenger.shape} must be "
            "1-D with one value per row of the same rows."
        )
    if len(champion) == 0:
        raise ValueError("no rows to compare: both loss arrays are empty.")
    not_finite = int((~np.isfinite(champion)).sum() + (~np.isfinite(challenger)).sum())
    if not_finite:
        raise ValueError(f"{not_finite} loss values are NaN or infinite; cannot compare means.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence} must be in (0, 1).")
    if n_resamples < 1:
        raise ValueError(f"n_resamples={n_resamples} must be at least 1.")

    difference = champion - challenger
    n = len(difference)
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // n)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        rows = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = difference[rows].mean(axis=1)
    alpha = 1 - confidence
    ci_low, ci_high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return PairedComparison(
        metric=metric,
        n=n,
        champion_loss=float(champion.mean()),
        challenger_loss=float(challenger.mean()),
        improvement=float(difference.mean()),
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        confidence=confidence,
    )


def compare_on_slices(
    frame: pd.DataFrame,
    slice_columns: Sequence[str],
    champion_loss: np.ndarray,
    challenger_loss: np.ndarray,
    *,
    metric: str,
    min_rows: int = 50,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[tuple[str, str, PairedComparison]]:
    """`paired_bootstrap` within each slice of at least `min_rows` rows: (column, value, result).

    Slices are labelled as in `slice_metrics` (missing values form the "<missing>" slice).
    """
    import numpy as np

    champion = np.asarray(champion_loss, dtype=float)
    challenger = np.asarray(challenger_loss, dtype=float)
    check_aligned(frame, len(champion), "champion_loss")
    check_aligned(frame, len(challenger), "challenger_loss")
    return [
        (
            column,
            value,
            paired_bootstrap(
                champion[positions],
                challenger[positions],
                metric=metric,
                n_resamples=n_resamples,
                confidence=confidence,
                seed=seed,
            ),
        )
        for column, labels in slice_labels(frame, slice_columns)
        for value, positions in slice_groups(labels, min_rows)
    ]
