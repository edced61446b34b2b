"""How close a regressor's label-free estimate (DLE, domain/estimation/dle.py) comes to the
realized MAE, on real tables that packages ship, under covariate shift.

For each table: a random 60 % is the reference (70 % of it trains a HistGradientBoosting
champion, 30 % fits the loss models, as the validation split does at training); days are
drawn without replacement from the other 40 %, leaning more and more to one side of a feature
(day k weights a row by exp(3 k / days * (its percentile - 0.5))). Printed per table and day
size: the mean relative error of the estimated MAE against the day's realized MAE, how often
the interval held it, the interval's mean half-width, what of that error chance alone makes
(the realized MAE's own sampling noise at the day's size, E|N(0, sd)|) and the loss model's
error on the day's whole distribution (its drawing probabilities over the held-out rows: no
sampling noise), the same for RMSE, and the error of the reference MAE taken as a constant
estimate. The tables: statsmodels' randhie, scikit-learn's diabetes, palmerpenguins, UCI's
bike sharing hours (shipped in mlops_assets_tests/data; also cut into disjoint days by
temperature band, season and hour, `measure_bands`) and ggplot2's diamonds
(bench/real_tables.py installs plotnine's wheel, which ships it, on first use). Four to five
minutes on a quiet 2-CPU machine, plus the shift term's domain classifier, 0.2-0.8 s a day:

    .venv/bin/python scripts/measure_dle.py
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ShiftedDays:
    """A champion, its loss model fitted on held-out reference rows, and days drawn from the
    other rows (`days`: each day's row positions in `pool`)."""

    champion: Any
    validation: pd.DataFrame
    pool: pd.DataFrame
    predicted: np.ndarray
    error: np.ndarray
    loss_model: Any
    fit_seconds: float
    days: list[np.ndarray]
    weights: list[np.ndarray]
    """Each day's drawing probabilities over `pool`: the day's distribution."""


def leaning_days(
    column: pd.Series, day_rows: int, days: int, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Days of `day_rows` positions drawn without replacement, day k weighting a row by
    exp(3 k / days * (its percentile in `column` - 0.5)): each day's positions and drawing
    probabilities (bench/bench_estimators.py draws a classifier's days the same way)."""
    rank = column.rank(pct=True).fillna(0.5).to_numpy()
    drawn, weights = [], []
    for day in range(days):
        weight = np.exp(3.0 * day / days * (rank - 0.5))
        weights.append(weight / weight.sum())
        drawn.append(rng.choice(len(column), size=day_rows, replace=False, p=weights[-1]))
    return drawn, weights


def shifted_days(
    frame: pd.DataFrame,
    target: str,
    numeric: list[str],
    categorical: list[str],
    shift_column: str,
    day_rows: int,
    days: int,
    seed: int = 0,
) -> ShiftedDays:
    """The split and the days described at the top (bench/bench_estimators.py hands the same
    rows to NannyML)."""
    from mlops_assets.domain.estimation.dle import fit_loss_model
    from mlops_assets.domain.training import build_pipeline

    rng = np.random.default_rng(seed)
    frame = frame.dropna(subset=[target]).reset_index(drop=True)
    order = rng.permutation(len(frame))
    cut = int(0.6 * len(frame))
    reference, pool = frame.iloc[order[:cut]], frame.iloc[order[cut:]].reset_index(drop=True)
    train = reference.iloc[: int(0.7 * len(reference))]
    validation = reference.iloc[int(0.7 * len(reference)) :]
    features = numeric + categorical
    champion = build_pipeline(numeric, categorical, "regression", params={"max_iter": 200})
    champion.fit(train[features], train[target])
    started = time.perf_counter()
    model = fit_loss_model(
        validation[features],
        validation[target].to_numpy(dtype=float),
        champion.predict(validation[features]),
        numeric,
        categorical,
    )
    fit_seconds = time.perf_counter() - started
    predicted = champion.predict(pool[features])
    drawn, weights = leaning_days(pool[shift_column], day_rows, days, rng)
    return ShiftedDays(
        champion,
        validation,
        pool,
        predicted,
        pool[target].to_numpy(dtype=float) - predicted,
        model,
        fit_seconds,
        drawn,
        weights,
    )


def measure(
    name: str,
    frame: pd.DataFrame,
    target: str,
    numeric: list[str],
    categorical: list[str],
    shift_column: str,
    day_rows: int,
    days: int,
    seed: int = 0,
) -> str:
    from mlops_assets.domain.estimation.dle import estimate_regression

    setup = shifted_days(frame, target, numeric, categorical, shift_column, day_rows, days, seed)
    model, error = setup.loss_model, setup.error
    absolute, squared = model.predict(setup.pool[numeric + categorical], setup.predicted)
    mae_error, mae_covered, half, rmse_error, rmse_covered, constant = [], [], [], [], [], []
    bias, floor, pooled = [], [], []
    for rows, weight in zip(setup.days, setup.weights, strict=True):
        features = setup.pool[numeric + categorical].iloc[rows]
        shift = model.shift(features, setup.predicted[rows])
        estimate = estimate_regression(absolute[rows], squared[rows], model, shift=shift)
        mae = float(np.abs(error[rows]).mean())
        rmse = float(np.sqrt((error[rows] ** 2).mean()))
        mae_error.append(abs(estimate.mae - mae) / mae)
        mae_covered.append(estimate.mae_low <= mae <= estimate.mae_high)
        half.append((estimate.mae_high - estimate.mae_low) / 2 / estimate.mae)
        rmse_error.append(abs(estimate.rmse - rmse) / rmse)
        rmse_covered.append(estimate.rmse_low <= rmse <= estimate.rmse_high)
        constant.append(abs(model.absolute.reference_mean - mae) / mae)
        # The loss model's own error, without the day's sampling noise: its estimate over the
        # day's whole distribution against that distribution's MAE.
        expected = float(weight @ np.abs(error))
        bias.append(abs(float(weight @ absolute) - expected) / expected)
        # What chance alone leaves: E|N(0, sd)| of the realized MAE at the day's size.
        sd = np.sqrt(model.absolute.noise_ratio * float((absolute[rows] ** 2).sum())) / len(rows)
        floor.append(np.sqrt(2 / np.pi) * sd / mae)
        # The days are drawn without replacement from a finite pool, which shrinks that noise
        # by the finite-population factor: what the measured error holds, not a fresh day.
        pooled.append(floor[-1] * np.sqrt(1 - len(rows) / len(setup.pool)))
    return (
        f"{name}: {len(setup.validation)} reference rows, {days} days of {day_rows} rows: MAE "
        f"error {np.mean(mae_error):.1%}, coverage {np.mean(mae_covered):.0%}, half-width "
        f"{np.mean(half):.0%} (sampling noise alone {np.mean(floor):.1%}, "
        f"{np.mean(pooled):.1%} in this pool, the loss model's error on the day's "
        f"distribution {np.mean(bias):.1%}); RMSE error "
        f"{np.mean(rmse_error):.1%}, coverage {np.mean(rmse_covered):.0%}; reference MAE as "
        f"the estimate {np.mean(constant):.1%}; "
        f"loss model error {model.absolute.model_error:.1%}, fitted in "
        f"{setup.fit_seconds:.1f} s"
    )


def measure_bands(
    name: str,
    frame: pd.DataFrame,
    target: str,
    numeric: list[str],
    categorical: list[str],
    band_column: str,
    bands: int | None,
) -> str:
    """Disjoint days instead of leaning ones, a stronger shift: the same split, the held-out
    rows sorted by `band_column` and cut into `bands` days (None: one day per value). Beside
    the errors, the realized MAE's own standard error at the day's size, sd(|e|) / sqrt(n)
    relative to the MAE, measured on the day's rows."""
    from mlops_assets.domain.estimation.dle import estimate_regression

    setup = shifted_days(frame, target, numeric, categorical, band_column, 1, 1)
    pool, error, model = setup.pool, setup.error, setup.loss_model
    absolute, squared = model.predict(pool[numeric + categorical], setup.predicted)
    if bands is None:
        days = [np.asarray(group) for group in pool.groupby(band_column).indices.values()]
    else:
        order = np.argsort(pool[band_column].to_numpy(dtype=float), kind="stable")
        days = np.array_split(order, bands)
    mae_error, mae_covered, rmse_error, rmse_covered, half, floor = [], [], [], [], [], []
    for rows in days:
        shift = model.shift(pool[numeric + categorical].iloc[rows], setup.predicted[rows])
        estimate = estimate_regression(absolute[rows], squared[rows], model, shift=shift)
        loss = np.abs(error[rows])
        mae, rmse = float(loss.mean()), float(np.sqrt((error[rows] ** 2).mean()))
        mae_error.append(abs(estimate.mae - mae) / mae)
        mae_covered.append(estimate.mae_low <= mae <= estimate.mae_high)
        rmse_error.append(abs(estimate.rmse - rmse) / rmse)
        rmse_covered.append(estimate.rmse_low <= rmse <= estimate.rmse_high)
        half.append((estimate.mae_high - estimate.mae_low) / 2 / estimate.mae)
        floor.append(float(loss.std(ddof=1)) / np.sqrt(len(rows)) / mae)
    return (
        f"{name}: {len(days)} days by {band_column} of {min(map(len, days))}-"
        f"{max(map(len, days))} rows: MAE error {np.mean(mae_error):.1%}, coverage "
        f"{np.mean(mae_covered):.0%}, half-width {np.mean(half):.1%} (the realized MAE's "
        f"standard error {np.mean(floor):.1%}); RMSE error {np.mean(rmse_error):.1%}, "
        f"coverage {np.mean(rmse_covered):.0%}"
    )


def bike_sharing() -> tuple[pd.DataFrame, list[str], list[str]]:
    """UCI's bike sharing hours (shipped with the tests), its integer-coded categories as
    strings; the rentals `cnt` are the target, `casual` and `registered` its parts, left out."""
    folder = Path(__file__).resolve().parent.parent / "mlops_assets_tests" / "data"
    frame = pd.read_csv(folder / "bike_sharing" / "hour.csv.gz")
    categorical = ["season", "mnth", "hr", "weekday", "weathersit", "holiday", "workingday"]
    return (
        frame.astype({c: str for c in categorical}),
        ["temp", "atemp", "hum", "windspeed", "yr"],
        categorical,
    )


def main() -> None:
    import palmerpenguins
    import statsmodels.api as sm
    from sklearn.datasets import load_diabetes

    visits = sm.datasets.randhie.load_pandas().data
    columns = [c for c in visits.columns if c != "mdvis"]
    for rows in (500, 1000, 3000):
        print(measure("randhie, high disea", visits, "mdvis", columns, [], "disea", rows, 100))
    diabetes = load_diabetes(as_frame=True, scaled=False).frame
    columns = [c for c in diabetes.columns if c != "target"]
    print(measure("diabetes, high bmi", diabetes, "target", columns, [], "bmi", 40, 200))
    penguins = palmerpenguins.load_penguins().drop(columns="year")
    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
    categorical = ["island", "sex", "species"]
    shift = "flipper_length_mm"
    print(measure("penguins", penguins, "body_mass_g", numeric, categorical, shift, 40, 200))
    bikes, numeric, categorical = bike_sharing()
    for rows in (1000, 3000):
        print(
            measure(
                "bike sharing, warm hours", bikes, "cnt", numeric, categorical, "temp", rows, 100
            )
        )
    for column, bands in (("temp", 6), ("season", None), ("hr", 6)):
        print(measure_bands("bike sharing", bikes, "cnt", numeric, categorical, column, bands))
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import real_tables

    table = real_tables.diamond_prices()
    for rows in (1000, 3000, 5000):
        print(
            measure(
                "diamonds, large stones",
                table.frame,
                table.target,
                table.numeric,
                table.categorical,
                table.shift_column,
                rows,
                100,
            )
        )


if __name__ == "__main__":
    main()
