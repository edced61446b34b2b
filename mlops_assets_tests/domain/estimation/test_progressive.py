"""The progressive estimate (realized on the labelled rows, estimated on the rest) and the
interval's parts, including an older calibrator artefact without reference bins."""

import json
from itertools import pairwise

import numpy as np
import pytest

from mlops_assets.domain.estimation.calibration import (
    ProbabilityCalibrator,
    ReferenceBins,
    fit_calibrator,
)
from mlops_assets.domain.estimation.cbpe import (
    OLD_ARTEFACT_BASIS,
    accuracy_interval,
    estimate_classification,
    progressive_accuracy,
)
from mlops_assets.domain.performance import wilson


def _scores(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A calibrated binary model's probabilities and whether each prediction was right."""
    positive = rng.beta(0.6, 0.6, size=n)
    raw = np.column_stack([1 - positive, positive])
    right = rng.random(n) < raw.max(axis=1)
    return raw, right


def _day() -> tuple[np.ndarray, np.ndarray, ReferenceBins]:
    rng = np.random.default_rng(5)
    reference_raw, reference_right = _scores(rng, 1500)
    y_reference = np.where(
        reference_right, reference_raw.argmax(axis=1), reference_raw.argmin(axis=1)
    )
    raw, right = _scores(rng, 3000)
    return raw, right, ReferenceBins.of(reference_raw, y_reference)


def test_progressive_is_the_estimate_with_no_label_and_the_realized_interval_with_all() -> None:
    raw, right, reference = _day()
    p_hit = raw.max(axis=1)
    none = progressive_accuracy(p_hit, right, np.zeros(len(raw), bool), raw, reference)
    estimate = accuracy_interval(p_hit, raw, reference)
    assert (none.accuracy, none.low, none.high) == (estimate.accuracy, estimate.low, estimate.high)
    every = progressive_accuracy(p_hit, right, np.ones(len(raw), bool), raw, reference)
    assert every.accuracy == right.mean()
    assert (every.low, every.high) == wilson(int(right.sum()), len(raw), 0.95)


def test_progressive_interval_narrows_as_labels_land() -> None:
    raw, right, reference = _day()
    p_hit = raw.max(axis=1)
    order = np.random.default_rng(1).permutation(len(raw))
    widths, covered = [], []
    for landed in range(0, len(raw) + 1, 300):
        labelled = np.zeros(len(raw), bool)
        labelled[order[:landed]] = True
        step = progressive_accuracy(p_hit, right, labelled, raw, reference)
        widths.append(step.high - step.low)
        covered.append(step.low <= right.mean() <= step.high)
    assert all(later < earlier for earlier, later in pairwise(widths))
    assert widths[0] > 1.5 * widths[-1]
    assert all(covered)


def test_interval_widens_with_the_share_of_rows_that_moved_from_the_reference() -> None:
    raw, _, reference = _day()
    p_hit = raw.max(axis=1)
    like_reference = accuracy_interval(p_hit, raw, reference)
    # The same rows, but only the confident half: a day far from the reference's histogram.
    confident = raw.max(axis=1) > np.median(raw.max(axis=1))
    moved = accuracy_interval(p_hit[confident], raw[confident], reference)
    assert like_reference.shift < 0.02 < moved.shift
    assert like_reference.calibration_sd > 0
    assert "moved away from the reference" in moved.basis
    # The bound widens both ends: on rows unlike the reference's a model can be right more
    # often than its calibrated confidence says as well as less (employment_MA's age bands,
    # test_binary_real_shift.py).
    assert moved.high == pytest.approx(
        min(1.0, moved.accuracy + moved.statistical_half + moved.shift)
    )
    assert moved.low == pytest.approx(moved.accuracy - moved.statistical_half - moved.shift)


def test_shift_bound_weighs_each_moved_row_by_its_own_bernoulli_spread() -> None:
    raw, _, reference = _day()
    p_hit = raw.max(axis=1)
    confident = raw.max(axis=1) > np.median(raw.max(axis=1))
    day_raw, day_hit = raw[confident], p_hit[confident]
    moved = reference.total_variation(day_raw)
    bound = reference.moved_spread(day_raw, day_hit)
    a = day_hit.mean()
    # Confident rows have small Bernoulli spreads: the bin-wise bound is well under the moved
    # share times the day's mean spread sqrt(a(1-a)), and above the smallest row's.
    assert moved * np.sqrt(day_hit * (1 - day_hit)).min() <= bound
    assert bound < 0.9 * moved * np.sqrt(a * (1 - a))
    # A day drawn like the reference moved only by chance (1,500 reference rows): a small bound.
    assert reference.moved_spread(raw, p_hit) < 0.02 < bound


def test_older_calibrator_artefact_loads_and_gives_the_sampling_only_interval_stated() -> None:
    raw, right, _ = _day()
    y = np.where(right, raw.argmax(axis=1), raw.argmin(axis=1))
    calibrator = fit_calibrator(raw, y, seed=0)
    assert calibrator.reference is not None
    older = json.loads(calibrator.to_json())
    del older["reference"]
    loaded = ProbabilityCalibrator.from_json(json.dumps(older))
    assert loaded.reference is None
    calibrated = loaded.apply(raw)
    estimate = estimate_classification(
        calibrated, raw.argmax(axis=1), raw=raw, reference=loaded.reference
    )
    p_hit = calibrated.max(axis=1)
    half = 1.959963984540054 * np.sqrt((p_hit * (1 - p_hit)).sum()) / len(p_hit)
    assert estimate.accuracy_high - estimate.accuracy_low == pytest.approx(2 * half)
    assert estimate.interval_basis == OLD_ARTEFACT_BASIS
    again = ProbabilityCalibrator.from_json(calibrator.to_json())
    assert again.reference == calibrator.reference
