"""Performance estimated before labels: a probability calibrator fitted at training and
NannyML's confidence-based performance estimation (CBPE) from the calibrated probabilities."""

from mlops_assets.domain.estimation.calibration import (
    ProbabilityCalibrator,
    expected_calibration_error,
    fit_calibrator,
)
from mlops_assets.domain.estimation.cbpe import ClassificationEstimate, estimate_classification

__all__ = [
    "ClassificationEstimate",
    "ProbabilityCalibrator",
    "estimate_classification",
    "expected_calibration_error",
    "fit_calibrator",
]
