"""How close a regressor's label-free estimate (DLE, domain/estimation/dle.py) comes to the
realized MAE, on real tables that packages ship, under covariate shift.

For each table: a random 60 % is the reference (70 % of it trains a HistGradientBoosting
champion, 30 % fits the loss models, as the validation split does at training); days are
drawn without replacement from the other 40 %, leaning more and more to one side of a feature
(day k weights a row by exp(3 k / days * (its percentile - 0.5))). Printed per table and day
size: the mean relative error of the estimated MAE against the day's realized MAE, how often
the interval held it, the interval's mean half-width, the same for RMSE, and the error of the
reference MAE taken as a constant estimate. Two to three minutes on a quiet 2-CPU machine:

    .venv/bin/python scripts/measure_dle.py
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd


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
    from mlops_assets.domain.estimation.dle import estimate_regression, fit_loss_model
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
    absolute, squared = model.predict(pool[features], predicted)
    error = pool[target].to_numpy(dtype=float) - predicted
    rank = pool[shift_column].rank(pct=True).fillna(0.5).to_numpy()
    mae_error, mae_covered, half, rmse_error, rmse_covered, constant = [], [], [], [], [], []
    for day in range(days):
        weight = np.exp(3.0 * day / days * (rank - 0.5))
        rows = rng.choice(len(pool), size=day_rows, replace=False, p=weight / weight.sum())
        estimate = estimate_regression(absolute[rows], squared[rows], model)
        mae = float(np.abs(error[rows]).mean())
        rmse = float(np.sqrt((error[rows] ** 2).mean()))
        mae_error.append(abs(estimate.mae - mae) / mae)
        mae_covered.append(estimate.mae_low <= mae <= estimate.mae_high)
        half.append((estimate.mae_high - estimate.mae_low) / 2 / estimate.mae)
        rmse_error.append(abs(estimate.rmse - rmse) / rmse)
        rmse_covered.append(estimate.rmse_low <= rmse <= estimate.rmse_high)
        constant.append(abs(model.absolute.reference_mean - mae) / mae)
    return (
        f"{name}: {len(validation)} reference rows, {days} days of {day_rows} rows: MAE error "
        f"{np.mean(mae_error):.1%}, coverage {np.mean(mae_covered):.0%}, half-width "
        f"{np.mean(half):.0%}; RMSE error {np.mean(rmse_error):.1%}, coverage "
        f"{np.mean(rmse_covered):.0%}; reference MAE as the estimate {np.mean(constant):.1%}; "
        f"loss model error {model.absolute.model_error:.1%}, fitted in {fit_seconds:.1f} s"
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


if __name__ == "__main__":
    main()
