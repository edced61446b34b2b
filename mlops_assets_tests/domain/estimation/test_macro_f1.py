"""Expected macro F1 (CBPE for any number of classes) and its interval."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from mlops_assets.domain.estimation import estimate_classification, fit_calibrator
from mlops_assets.domain.estimation.macro_f1 import estimate_macro_f1


def _draws(calibrated: np.ndarray, predicted: np.ndarray, times: int, seed: int) -> np.ndarray:
    """Realized macro F1 when each row's true class is drawn from its probabilities."""
    rng = np.random.default_rng(seed)
    cumulative = calibrated.cumsum(axis=1)
    classes = range(calibrated.shape[1])
    return np.array(
        [
            f1_score(
                (rng.random(len(calibrated))[:, None] > cumulative).sum(axis=1),
                predicted,
                average="macro",
                labels=classes,
                zero_division=0,
            )
            for _ in range(times)
        ]
    )


@pytest.mark.parametrize(("rows", "classes"), [(300, 3), (1000, 5), (400, 2)])
def test_estimate_and_its_noise_are_those_of_labels_drawn_from_the_probabilities(rows, classes):
    rng = np.random.default_rng(rows)
    calibrated = rng.dirichlet(np.full(classes, 0.7), size=rows)
    predicted = calibrated.argmax(axis=1)
    estimate = estimate_macro_f1(calibrated, predicted)
    realized = _draws(calibrated, predicted, 500, seed=rows)
    assert estimate.value == pytest.approx(realized.mean(), abs=0.005)
    assert estimate.sampling_sd == pytest.approx(realized.std(), rel=0.1)
    covered = np.mean((realized >= estimate.low) & (realized <= estimate.high))
    assert 0.92 <= covered <= 0.98


def test_the_accuracy_intervals_calibration_and_shift_terms_widen_the_macro_f1s():
    rng = np.random.default_rng(0)
    calibrated = rng.dirichlet(np.ones(4), size=500)
    predicted = calibrated.argmax(axis=1)
    plain = estimate_macro_f1(calibrated, predicted)
    wider = estimate_macro_f1(calibrated, predicted, calibration_sd=0.02, shift=0.05)
    assert wider.value == plain.value
    assert wider.sensitivity == pytest.approx(1.0, abs=0.2)
    assert wider.calibration_sd == pytest.approx(0.02 * wider.sensitivity)
    assert plain.value - wider.low > (plain.value - plain.low) + 0.04
    assert wider.high > plain.high


def test_estimated_macro_f1_holds_the_realized_on_digits_days_leaning_to_dark_images():
    # scikit-learn's bundled handwritten digits, 10 classes: days drawn from held-out rows
    # leaning more and more to images with much ink (a covariate shift).
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    train, validation, pool = order[:700], order[700:1200], order[1200:]
    model = LogisticRegression(C=0.01, max_iter=2000).fit(x[train], y[train])
    calibrator = fit_calibrator(model.predict_proba(x[validation]), y[validation])
    raw = model.predict_proba(x[pool])
    calibrated, predicted = calibrator.apply(raw), raw.argmax(axis=1)
    ink = x[pool].sum(axis=1)
    rank = ink.argsort().argsort() / len(ink)
    errors, covered = [], []
    for day in range(40):
        weight = np.exp(3.0 * day / 40 * (rank - 0.5))
        rows = rng.choice(len(pool), size=150, replace=False, p=weight / weight.sum())
        estimate = estimate_classification(
            calibrated[rows], predicted[rows], raw=raw[rows], reference=calibrator.reference
        )
        realized = f1_score(y[pool][rows], predicted[rows], average="macro", zero_division=0)
        errors.append(abs(estimate.f1_macro - realized))
        covered.append(estimate.f1_macro_low <= realized <= estimate.f1_macro_high)
    assert np.mean(errors) < 0.03
    assert np.mean(covered) >= 0.9
