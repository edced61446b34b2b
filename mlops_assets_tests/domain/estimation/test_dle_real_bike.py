"""DLE on a second real regression table (issue 29: estimated MAE and RMSE with intervals that
hold the realized on real covariate shift): UCI's bike sharing, all 17,379 hours (CC BY 4.0;
mlops_assets_tests/data/bike_sharing/README.md), the rentals of the hour `cnt`.

Split and days as scripts/measure_dle.py draws every table's: a random 60 % is the reference
(70 % of it trains the project's HistGradientBoosting pipeline, 30 % fits the loss models), 100
days of 1,000 hours drawn from the other 6,952 leaning more and more to warm hours (`temp`).
Measured: MAE mean relative error 2.9 % (its own sampling noise at 1,000 rows, E|N(0, sd)|,
2.6 %: what no estimator removes), coverage 100 %; RMSE 5.1 %, 100 %. On disjoint days, the
held-out hours cut by temperature band, season and hour of the day (a stronger shift), the MAE
interval held 12 of 16 days before the shift term (domain/estimation/shift.py), 14 of 16 with
it."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scripts.measure_dle import ShiftedDays, shifted_days

DATA = Path(__file__).parent.parent.parent / "data"

NUMERIC = ["temp", "atemp", "hum", "windspeed", "yr"]
# Integer-coded categories (hour of the day, month, weather situation, ...).
CATEGORICAL = ["season", "mnth", "hr", "weekday", "weathersit", "holiday", "workingday"]
DAYS, DAY_ROWS = 100, 1000


@pytest.fixture(scope="module")
def warm_days() -> ShiftedDays:
    frame = pd.read_csv(DATA / "bike_sharing" / "hour.csv.gz")
    frame = frame.astype({c: str for c in CATEGORICAL})
    return shifted_days(frame, "cnt", NUMERIC, CATEGORICAL, "temp", DAY_ROWS, DAYS)


def test_the_interval_holds_the_realized_mae_and_rmse_on_days_leaning_to_warm_hours(
    warm_days: ShiftedDays,
) -> None:
    from mlops_assets.domain.estimation.dle import estimate_regression

    setup = warm_days
    features = setup.pool[NUMERIC + CATEGORICAL]
    absolute, squared = setup.loss_model.predict(features, setup.predicted)
    mae_error, mae_covered, rmse_covered, realized, temp = [], [], [], [], []
    for rows in setup.days:
        shift = setup.loss_model.shift(features.iloc[rows], setup.predicted[rows])
        estimate = estimate_regression(absolute[rows], squared[rows], setup.loss_model, shift=shift)
        mae = float(np.abs(setup.error[rows]).mean())
        rmse = float(np.sqrt((setup.error[rows] ** 2).mean()))
        mae_error.append(abs(estimate.mae - mae) / mae)
        mae_covered.append(estimate.mae_low <= mae <= estimate.mae_high)
        rmse_covered.append(estimate.rmse_low <= rmse <= estimate.rmse_high)
        realized.append(mae)
        temp.append(float(setup.pool["temp"].iloc[rows].mean()))
    # The days do move: warmer, and the champion's error rises with the rentals.
    assert np.mean(temp[-10:]) > np.mean(temp[:10]) + 0.1
    assert np.mean(realized[-10:]) > 1.05 * np.mean(realized[:10])
    assert np.mean(mae_covered) >= 0.9
    assert np.mean(rmse_covered) >= 0.9
    # The realized MAE's own noise at 1,000 rows is 2.6 % of it: the error cannot go far below.
    assert np.mean(mae_error) <= 0.04


def test_the_interval_holds_the_realized_mae_on_most_days_cut_by_a_feature(
    warm_days: ShiftedDays,
) -> None:
    """Each day one region of a feature: the 6,952 held-out hours sorted by temperature and cut
    into 6 days, one day per season (4), the hour of the day in 6 bands: 16 days of 1,158 to
    1,785 hours. Without the shift term the interval held 12 of 16 (5 of 6, 2 of 4, 5 of 6);
    with it 14 of 16 (season 3 and the night hours missed, realized MAE 9 % and 12 % off the
    estimate with a half-width of 9.5 % and 12 %). The half-width stays under a fifth of the
    MAE: wider than the leaning days' 9 %, as these days are further from the reference."""
    from mlops_assets.domain.estimation.dle import estimate_regression

    setup = warm_days
    pool, model = setup.pool, setup.loss_model
    features = pool[NUMERIC + CATEGORICAL]
    absolute, squared = model.predict(features, setup.predicted)
    days = [np.asarray(rows) for rows in pool.groupby("season").indices.values()]
    for column in ("temp", "hr"):
        order = np.argsort(pool[column].to_numpy(dtype=float), kind="stable")
        days += np.array_split(order, 6)
    covered, half = [], []
    for rows in days:
        shift = model.shift(features.iloc[rows], setup.predicted[rows])
        estimate = estimate_regression(absolute[rows], squared[rows], model, shift=shift)
        mae = float(np.abs(setup.error[rows]).mean())
        covered.append(estimate.mae_low <= mae <= estimate.mae_high)
        half.append((estimate.mae_high - estimate.mae_low) / 2 / estimate.mae)
    assert len(days) == 16
    assert sum(covered) >= 14
    assert np.mean(half) < 0.2
