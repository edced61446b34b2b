"""DLE's shift term (domain/estimation/shift.py): zero when the day looks like the reference,
larger as more of the day moves to where the loss model errs; the interval takes it, and an
artefact written before it still loads and says what its interval lacks."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from mlops_assets.domain.estimation.dle import (
    OLD_ARTEFACT_BASIS,
    LossFigures,
    LossModel,
    estimate_regression,
    fit_loss_model,
)
from mlops_assets.domain.estimation.shift import ShiftTerm, weighted_excess


def _two_regions(n: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A reference whose loss model is right on region B and short by a fifth on region A
    (the first quarter of the rows): loss, out-of-fold prediction, and which rows are A."""
    rng = np.random.default_rng(0)
    loss = rng.exponential(1.0, n)
    region_a = np.arange(n) < n // 4
    out_of_fold = np.where(region_a, 0.8, 1.0) * loss + rng.normal(0, 0.05, n)
    return loss, out_of_fold, region_a


def test_the_shift_term_is_zero_when_the_day_weighs_the_reference_rows_alike():
    loss, out_of_fold, _ = _two_regions()
    assert weighted_excess(loss, out_of_fold, np.ones(len(loss))) == 0.0
    assert weighted_excess(loss, out_of_fold, np.full(len(loss), 7.0)) == pytest.approx(
        0, abs=1e-12
    )


def test_the_shift_term_grows_with_the_share_of_the_day_moved_to_where_the_model_errs():
    loss, out_of_fold, region_a = _two_regions()
    terms = []
    for moved in (0.0, 0.25, 0.5, 0.75, 1.0):
        # The day's share in region A goes from the reference's quarter to all of it.
        share_a = 0.25 + 0.75 * moved
        weights = np.where(region_a, share_a / 0.25, (1 - share_a) / 0.75)
        terms.append(weighted_excess(loss, out_of_fold, weights))
    assert terms[0] == 0.0
    assert all(a < b for a, b in itertools.pairwise(terms))
    # All of the day in region A: the loss model is short by about a fifth there.
    assert math.sqrt(terms[-1]) == pytest.approx(0.2, abs=0.03)


def test_the_interval_adds_the_shift_term_to_the_loss_models_error():
    model = LossModel((), (), 100, LossFigures(1.0, 0.5, 0.1), LossFigures(1.0, 2.0, 0.1), 0, 0)
    ones = np.ones(100)
    without = estimate_regression(ones, ones, model, shift=ShiftTerm(0.0, 0.0, 100.0, 100))
    shifted = estimate_regression(ones, ones, model, shift=ShiftTerm(0.2**2, 0.0, 30.0, 100))
    z = 1.959964
    assert without.mae_high - without.mae == pytest.approx(
        z * math.sqrt(0.5 / 100 + 0.1**2), rel=1e-5
    )
    assert shifted.mae_high - shifted.mae == pytest.approx(
        z * math.sqrt(0.5 / 100 + 0.1**2 + 0.2**2), rel=1e-5
    )
    assert shifted.mae == without.mae  # the point estimate does not move
    assert "weigh as 30 of 100" in shifted.interval_basis
    assert estimate_regression(ones, ones, model).interval_basis == OLD_ARTEFACT_BASIS


def _rows(n: int, rng: np.random.Generator, warm: float) -> pd.DataFrame:
    """x uniform on [0, 1] for the reference; `warm` of a day's rows from [0.75, 1] only.
    The error's spread jumps at 0.75 in a way a small loss model learns only roughly."""
    x = np.where(rng.random(n) < warm, rng.uniform(0.75, 1.0, n), rng.uniform(0.0, 1.0, n))
    colour = rng.choice(["red", "blue"], n)
    spread = 1.0 + 3.0 * (x > 0.75) * (x - 0.75) * 8
    return pd.DataFrame({"x": x, "colour": colour, "y": rng.normal(0, spread)})


def test_a_day_like_the_reference_gets_a_small_term_and_one_region_a_larger_one():
    rng = np.random.default_rng(5)
    reference = _rows(1500, rng, 0.0)
    model = fit_loss_model(
        reference[["x", "colour"]], reference["y"].to_numpy(), np.zeros(1500), ["x"], ["colour"]
    )
    like = _rows(1000, rng, 0.0)
    moved = _rows(1000, rng, 1.0)
    like_term = model.shift(like[["x", "colour"]], np.zeros(1000))
    moved_term = model.shift(moved[["x", "colour"]], np.zeros(1000))
    assert like_term is not None and moved_term is not None
    # Alike: most reference rows still count; one region: about its quarter of them.
    assert like_term.effective_rows > 0.6 * like_term.reference_rows
    assert moved_term.effective_rows < 0.4 * moved_term.reference_rows
    assert moved_term.absolute > like_term.absolute
    assert like_term.absolute < 0.03**2


def test_an_artefact_without_reference_rows_loads_and_its_interval_says_what_it_lacks():
    import skops.io as sio

    rng = np.random.default_rng(6)
    reference = _rows(300, rng, 0.0)
    model = fit_loss_model(
        reference[["x", "colour"]], reference["y"].to_numpy(), np.zeros(300), ["x"], ["colour"]
    )
    # What dle.py wrote before the shift term: the summary and the two models only.
    older = sio.dumps(
        {
            "summary": model.summary_json(),
            "absolute": model.absolute_model,
            "squared": model.squared_model,
        }
    )
    loaded = LossModel.from_bytes(older)
    day = _rows(100, rng, 1.0)
    assert loaded.reference is None
    assert loaded.shift(day[["x", "colour"]], np.zeros(100)) is None
    absolute, squared = loaded.predict(day[["x", "colour"]], np.zeros(100))
    assert estimate_regression(absolute, squared, loaded).interval_basis == OLD_ARTEFACT_BASIS
    # Today's artefact keeps the reference rows through its round trip.
    again = LossModel.from_bytes(model.to_bytes())
    assert again.reference is not None
    pd.testing.assert_frame_equal(again.reference.frame, model.reference.frame)
    np.testing.assert_array_equal(again.reference.absolute, model.reference.absolute)
