import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB

from mlops_assets.domain.estimation import (
    ProbabilityCalibrator,
    expected_calibration_error,
    fit_calibrator,
)


def _naive_bayes_split(loader):  # type: ignore[no-untyped-def]
    x, y = loader(return_X_y=True)
    x_fit, x_rest, y_fit, y_rest = train_test_split(x, y, test_size=0.6, random_state=0, stratify=y)
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=0, stratify=y_rest
    )
    model = GaussianNB().fit(x_fit, y_fit)

    def underconfident(x):  # type: ignore[no-untyped-def]
        # Naive Bayes is near perfect on wine; flattened (temperature 4) it is clearly
        # underconfident, which a calibrator must undo.
        flat = np.clip(model.predict_proba(x), 1e-12, 1) ** 0.25
        return flat / flat.sum(axis=1, keepdims=True)

    return underconfident(x_val), y_val, underconfident(x_test), y_test


def test_ece_is_zero_when_confidence_matches_hit_rate_and_large_when_overconfident() -> None:
    proba = np.array([[0.25, 0.75]] * 4)
    assert expected_calibration_error(proba, np.array([1, 1, 1, 0])) == pytest.approx(0.0)
    overconfident = np.array([[0.0, 1.0]] * 4)
    assert expected_calibration_error(overconfident, np.array([1, 0, 1, 0])) == pytest.approx(0.5)


@pytest.mark.parametrize("loader", [load_breast_cancer, load_wine], ids=["binary", "multiclass"])
def test_calibrating_naive_bayes_lowers_ece_on_held_out_rows(loader) -> None:  # type: ignore[no-untyped-def]
    val_proba, y_val, test_proba, y_test = _naive_bayes_split(loader)
    calibrator = fit_calibrator(val_proba, y_val, seed=0)
    assert calibrator.method in ("isotonic", "sigmoid")
    assert calibrator.ece_after < calibrator.ece_before
    calibrated = calibrator.apply(test_proba)
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
    assert expected_calibration_error(calibrated, y_test) < expected_calibration_error(
        test_proba, y_test
    )


@pytest.mark.parametrize("loader", [load_breast_cancer, load_wine], ids=["binary", "multiclass"])
def test_calibrator_json_round_trip_gives_identical_probabilities(loader) -> None:  # type: ignore[no-untyped-def]
    val_proba, y_val, test_proba, _ = _naive_bayes_split(loader)
    for method in ("isotonic", "sigmoid"):
        from mlops_assets.domain.estimation.calibration import _fit

        fitted = _fit(method, val_proba, y_val, val_proba.shape[1], 0.0)
        again = ProbabilityCalibrator.from_json(fitted.to_json())
        np.testing.assert_array_equal(again.apply(test_proba), fitted.apply(test_proba))


def test_a_steep_sigmoid_map_saturates_without_an_overflow_warning():
    """A nearly separable validation split fits Platt slopes in the hundreds: the logit's
    extremes (+-13.8) then push exp() past float64's range. The map must saturate at 0 and 1
    silently (make test once showed `RuntimeWarning: overflow encountered in exp` from here)."""
    import warnings

    calibrator = ProbabilityCalibrator("sigmoid", 2, ({"a": -80.0, "b": 0.0},), 0.1, 0.05)
    proba = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        calibrated = calibrator.apply(proba)

    assert calibrated[:, 1] == pytest.approx([1.0, 0.5, 0.0])
    assert calibrated.sum(axis=1) == pytest.approx([1.0, 1.0, 1.0])
