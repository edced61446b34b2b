"""Binary CBPE's interval on a real table whose days are selected by a feature (issue 29, item 3
and "Intervals that cover": on real covariate shift, at least 80 % of days covered, mean error
at most 0.010; the issue measured the interval on main (fcf80bb) covering 3 of 10 days of 5,000
rows).

NannyML's employment_MA (US census rows of Massachusetts, its own classifier's probabilities;
licences in mlops_assets_tests/data/employment_ma/README.md): the calibrator is fitted on the
6,000 rows of 2015 in employment_ma_sample.csv; the days are 50,000 rows of 2016-2018
(employment_ma_2016_2018_sample.csv.gz) ordered by age and cut into 10 days of 5,000, so each
day is one age band (children, young adults, ..., the oldest): x moves, the labels are the
survey's own. The days are disjoint. test_binary_real.py checks the softer shift (days leaning
to older people). Measured: 10 of 10 days covered, mean error 0.0090, mean half-width 0.105
(at 0ac3dda, the shift bound on the low end only: 8 of 10, 0.0090, 0.066)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_assets.domain.estimation import estimate_classification, fit_calibrator

FOLDER = Path(__file__).parent.parent.parent / "data" / "employment_ma"
DAYS, DAY_ROWS = 10, 5000


def _two_columns(p: pd.Series) -> np.ndarray:
    return np.column_stack([1 - p.to_numpy(float), p.to_numpy(float)])


@pytest.fixture(scope="module")
def age_band_days():  # type: ignore[no-untyped-def]
    """Per day: the estimate, the realized accuracy and the day's mean age."""
    reference = pd.read_csv(FOLDER / "employment_ma_sample.csv")
    reference = reference[reference["year"] == 2015]
    calibrator = fit_calibrator(
        _two_columns(reference["predicted_probability"]), reference["employed"].to_numpy()
    )
    # The file's rows are in random order; a stable sort keeps ties of age in that order.
    pool = pd.read_csv(FOLDER / "employment_ma_2016_2018_sample.csv.gz")
    pool = pool.sort_values("AGEP", kind="stable").reset_index(drop=True)
    assert len(pool) == DAYS * DAY_ROWS
    raw = _two_columns(pool["predicted_probability"])
    calibrated, predicted = calibrator.apply(raw), raw.argmax(axis=1)
    hit = predicted == pool["employed"].to_numpy()
    age = pool["AGEP"].to_numpy()
    days = []
    for day in range(DAYS):
        rows = np.arange(day * DAY_ROWS, (day + 1) * DAY_ROWS)
        estimate = estimate_classification(
            calibrated[rows], predicted[rows], raw=raw[rows], reference=calibrator.reference
        )
        days.append((estimate, float(hit[rows].mean()), float(age[rows].mean())))
    return days


def test_each_day_is_an_age_band(age_band_days) -> None:  # type: ignore[no-untyped-def]
    ages = [age for *_, age in age_band_days]
    assert ages == sorted(ages) and ages[-1] > ages[0] + 50


def test_the_interval_holds_the_realized_accuracy_on_age_band_days(age_band_days) -> None:  # type: ignore[no-untyped-def]
    errors = [abs(e.accuracy - realized) for e, realized, _ in age_band_days]
    covered = [e.accuracy_low <= realized <= e.accuracy_high for e, realized, _ in age_band_days]
    assert np.mean(covered) >= 0.8
    assert np.mean(errors) <= 0.010
    # Coverage bought with a useless width would pass the lines above (measured 0.105: the
    # shift bound is large on the bands furthest from the reference's ages).
    assert np.mean([(e.accuracy_high - e.accuracy_low) / 2 for e, *_ in age_band_days]) < 0.15


def test_the_high_end_holds_age_bands_where_the_model_is_underconfident(age_band_days) -> None:  # type: ignore[no-untyped-def]
    # On the bands of ages 25-33 and 42-50 the realized accuracy is above the estimate (0.844
    # against 0.823, 0.852 against 0.834): a model can be right more often than its calibrated
    # confidence says on rows unlike the reference's, so the shift bound widens the high end
    # too (it did not at 0ac3dda, where these two days were above the interval).
    underconfident = [(e, realized) for e, realized, _ in age_band_days if realized > e.accuracy]
    assert sum(realized - e.accuracy > 0.015 for e, realized in underconfident) >= 2
    assert all(realized <= e.accuracy_high for e, realized in underconfident)
