"""Binary CBPE's interval on a real table with covariate shift (issue 29's "intervals that
cover": at least 80 % of days, mean error at most 0.010): NannyML's employment_MA (the sample
shipped in mlops_assets_tests/data/employment_ma) with its own classifier's probabilities,
calibrated on the 2015 rows, days drawn from 2016-2018 leaning more and more to older people.
NannyML's CBPE on the whole table, same rows and probabilities: bench/bench_estimators.py."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_assets.domain.estimation import estimate_classification, fit_calibrator

DATA = Path(__file__).parent.parent.parent / "data" / "employment_ma" / "employment_ma_sample.csv"
DAYS, DAY_ROWS = 30, 2000


def _two_columns(p: pd.Series) -> np.ndarray:
    return np.column_stack([1 - p.to_numpy(float), p.to_numpy(float)])


@pytest.fixture(scope="module")
def shifted_days():  # type: ignore[no-untyped-def]
    """Per day: the estimate, the realized accuracy and the day's mean age."""
    frame = pd.read_csv(DATA)
    reference, pool = frame[frame["year"] == 2015], frame[frame["year"] > 2015]
    calibrator = fit_calibrator(
        _two_columns(reference["predicted_probability"]), reference["employed"].to_numpy()
    )
    raw = _two_columns(pool["predicted_probability"])
    calibrated, predicted = calibrator.apply(raw), raw.argmax(axis=1)
    hit = predicted == pool["employed"].to_numpy()
    age = pool["AGEP"].to_numpy()
    rank = pool["AGEP"].rank(pct=True).to_numpy()
    rng = np.random.default_rng(0)
    days = []
    for day in range(DAYS):
        weight = np.exp(3.0 * day / DAYS * (rank - 0.5))
        rows = rng.choice(len(pool), size=DAY_ROWS, replace=False, p=weight / weight.sum())
        estimate = estimate_classification(
            calibrated[rows], predicted[rows], raw=raw[rows], reference=calibrator.reference
        )
        days.append((estimate, float(hit[rows].mean()), float(age[rows].mean())))
    return days


def test_the_days_lean_to_older_people(shifted_days) -> None:  # type: ignore[no-untyped-def]
    ages = [age for *_, age in shifted_days]
    assert np.mean(ages[-5:]) > np.mean(ages[:5]) + 8


def test_the_interval_holds_the_realized_accuracy_on_most_shifted_days(shifted_days) -> None:  # type: ignore[no-untyped-def]
    errors = [abs(e.accuracy - realized) for e, realized, _ in shifted_days]
    covered = [e.accuracy_low <= realized <= e.accuracy_high for e, realized, _ in shifted_days]
    assert np.mean(covered) >= 0.8
    assert np.mean(errors) <= 0.010
    # A wide enough interval covers anything: its width is bounded too. Measured 0.042 with the
    # shift bound on both ends (0.031 when it widened the low end only, which issue 29's age
    # bands refuted: test_binary_real_shift.py).
    assert np.mean([(e.accuracy_high - e.accuracy_low) / 2 for e, *_ in shifted_days]) < 0.05
