"""Direct loss estimation (domain/estimation/dle.py): a regressor's MAE and RMSE before labels,
from loss models fitted on held-out rows; on scikit-learn's diabetes table (real, bundled) and
on rows whose error grows with a feature, shifted towards the large errors."""

import math

import numpy as np
import pandas as pd
import pytest

from mlops_assets.domain.estimation.dle import (
    LossFigures,
    LossModel,
    RegressionEstimate,
    estimate_regression,
    fit_loss_model,
    loss_figures,
)
from mlops_assets.domain.estimation.dle_judge import judge_regression_estimate


def _heteroscedastic(n: int, rng: np.random.Generator, shift: float = 0.0) -> pd.DataFrame:
    """y = 2x + noise whose spread grows with |x| and is larger for red rows; `shift` (0 to 1)
    moves x and makes red rows more common, inside the reference's range (covariate shift)."""
    x = rng.normal(shift, 1.0, n)
    red = 0.5 + 0.45 * shift
    colour = rng.choice(["red", "blue"], n, p=[red, 1 - red])
    spread = 0.5 + np.abs(x) + np.where(colour == "red", 1.0, 0.0)
    return pd.DataFrame({"x": x, "colour": colour, "y": 2 * x + rng.normal(0, spread)})


@pytest.fixture(scope="module")
def heteroscedastic() -> LossModel:
    rng = np.random.default_rng(0)
    reference = _heteroscedastic(2000, rng)
    # The champion knows the mean exactly: its error is the noise alone.
    return fit_loss_model(
        reference[["x", "colour"]], reference["y"].to_numpy(), 2 * reference["x"].to_numpy(),
        ["x"], ["colour"],
    )  # fmt: skip


def test_estimated_mae_follows_covariate_shift_towards_larger_errors(heteroscedastic):
    rng = np.random.default_rng(1)
    relative, covered, covered_rmse, constant = [], [], [], []
    for day in range(40):
        rows = _heteroscedastic(1000, rng, shift=day / 39)
        predicted = 2 * rows["x"].to_numpy()
        error = rows["y"].to_numpy() - predicted
        absolute, squared = heteroscedastic.predict(rows[["x", "colour"]], predicted)
        estimate = estimate_regression(absolute, squared, heteroscedastic)
        mae, rmse = float(np.abs(error).mean()), float(np.sqrt((error**2).mean()))
        relative.append(abs(estimate.mae - mae) / mae)
        constant.append(abs(heteroscedastic.absolute.reference_mean - mae) / mae)
        covered.append(estimate.mae_low <= mae <= estimate.mae_high)
        covered_rmse.append(estimate.rmse_low <= rmse <= estimate.rmse_high)
    # The shifted days' MAE rises by a third; the reference MAE misses that, the estimate does not.
    assert np.mean(constant) > 0.12
    assert np.mean(relative) < 0.05
    assert np.mean(covered) >= 0.9
    assert np.mean(covered_rmse) >= 0.8  # error² is heavy-tailed: its normal interval is short


def test_the_interval_holds_the_realized_mae_on_diabetes_days_of_forty_rows():
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    table = load_diabetes(as_frame=True, scaled=False).frame.sample(frac=1.0, random_state=0)
    features = [c for c in table.columns if c != "target"]
    train, reference, later = table.iloc[:200], table.iloc[200:300], table.iloc[300:]
    champion = Ridge().fit(train[features], train["target"])
    model = fit_loss_model(
        reference[features], reference["target"].to_numpy(),
        champion.predict(reference[features]), features, [],
    )  # fmt: skip
    predicted = champion.predict(later[features])
    error = later["target"].to_numpy() - predicted
    absolute, squared = model.predict(later[features], predicted)
    rng = np.random.default_rng(0)
    # Days drawn towards the heavier patients (covariate shift on bmi).
    weight = np.exp(2 * later["bmi"].rank(pct=True).to_numpy())
    covered = []
    for _ in range(200):
        day = rng.choice(len(later), size=40, replace=False, p=weight / weight.sum())
        estimate = estimate_regression(absolute[day], squared[day], model)
        covered.append(estimate.mae_low <= float(np.abs(error[day]).mean()) <= estimate.mae_high)
    assert np.mean(covered) >= 0.9


def test_loss_figures_measure_spread_and_model_error_on_held_out_rows():
    # Two regions: the loss model says 1.5 where the loss is 1 and 2.5 where it is 3. Over the
    # whole reference the errors cancel (mean 2 both); a day in one region would see +50 %.
    loss = np.repeat([1.0, 3.0], 100)
    predicted = np.repeat([1.5, 2.5], 100)
    figures = loss_figures(loss, predicted)
    assert figures.reference_mean == 2.0
    assert figures.noise_ratio == pytest.approx(50 / 850)  # sum (l - m)^2 / sum m^2
    # Five bins of 40 rows: +50 %, +50 %, 0 (half and half), -1/6, -1/6.
    assert figures.model_error == pytest.approx(math.sqrt((2 * 0.25 + 2 / 36) / 5))
    # Exact predictions leave the reference mean's own noise, sd / sqrt(n) / mean.
    exact = loss_figures(loss, loss)
    assert exact.model_error == pytest.approx(np.std(loss, ddof=1) / math.sqrt(200) / 2)
    assert exact.noise_ratio == 0.0


def test_the_interval_adds_sampling_noise_and_the_loss_models_error():
    model = LossModel((), (), 100, LossFigures(1.0, 0.5, 0.1), LossFigures(1.0, 2.0, 0.1), 0, 0)
    absolute, squared = np.ones(100), np.ones(100)
    estimate = estimate_regression(absolute, squared, model, confidence=0.95)
    half = 1.959964 * math.sqrt(0.5 * 100 / 100**2 + 0.1**2)
    assert estimate.mae == 1.0
    assert estimate.mae_high - estimate.mae == pytest.approx(half, rel=1e-5)
    # A larger day narrows only the sampling part: the loss model's error stays.
    large = estimate_regression(np.ones(100_000), np.ones(100_000), model)
    assert large.mae_high - large.mae == pytest.approx(1.959964 * 0.1, rel=1e-3)
    assert estimate.rmse_low < estimate.rmse == 1.0 < estimate.rmse_high


def test_a_rise_beyond_noise_counts_only_when_trusted():
    model = LossModel((), (), 1000, LossFigures(1.0, 0.5, 0.02), LossFigures(1.0, 2.0, 0.02), 0, 0)
    estimate = RegressionEstimate(2000, 1.3, 1.25, 1.35, 1.6, 1.5, 1.7)
    trusted, _, risen, reason = judge_regression_estimate(
        estimate, model, out_of_support=0.0, reference_mae=1.0, reference_n=1000
    )
    assert trusted and risen and reason.startswith("estimated rise: ")
    untrusted = judge_regression_estimate(
        estimate, model, out_of_support=0.5, reference_mae=1.0, reference_n=1000
    )
    assert untrusted[0] is False and untrusted[2] is False
    held = judge_regression_estimate(
        RegressionEstimate(2000, 1.005, 0.95, 1.06, 1.2, 1.1, 1.3), model,
        out_of_support=0.0, reference_mae=1.0, reference_n=1000,
    )  # fmt: skip
    assert held[2] is False and held[3].startswith("estimate held: ")


def test_the_loss_model_survives_its_artefact_round_trip(heteroscedastic):
    loaded = LossModel.from_bytes(heteroscedastic.to_bytes())
    rows = _heteroscedastic(50, np.random.default_rng(3))
    predicted = 2 * rows["x"].to_numpy()
    before = heteroscedastic.predict(rows[["x", "colour"]], predicted)
    after = loaded.predict(rows[["x", "colour"]], predicted)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    assert loaded.absolute == heteroscedastic.absolute


def test_too_few_reference_rows_is_a_clear_error():
    frame = pd.DataFrame({"x": np.arange(5.0)})
    with pytest.raises(ValueError, match="5 labelled reference rows"):
        fit_loss_model(frame, np.arange(5.0), np.zeros(5), ["x"], [])


def test_a_missing_feature_is_named():
    frame = pd.DataFrame({"x": np.arange(20.0)})
    with pytest.raises(ValueError, match="'z'"):
        fit_loss_model(frame, np.arange(20.0), np.zeros(20), ["x", "z"], [])


def test_the_loss_models_learn_from_a_bounded_sample_of_a_large_split(monkeypatch):
    import mlops_assets.domain.estimation.dle as dle

    monkeypatch.setattr(dle, "MAX_REFERENCE_ROWS", 60)
    rows = _heteroscedastic(200, np.random.default_rng(4))
    model = fit_loss_model(
        rows[["x", "colour"]], rows["y"].to_numpy(), 2 * rows["x"].to_numpy(), ["x"], ["colour"]
    )
    assert model.n_reference == 60


def test_the_interval_holds_the_realized_mae_on_diamond_days_leaning_to_large_stones():
    # ggplot2's diamonds (the sample in mlops_assets_tests/data/diamonds): the product's
    # pipeline predicting the price, its loss model on held-out rows, days of 500 drawn from
    # rows neither saw, leaning more and more to large stones.
    from pathlib import Path

    from mlops_assets.domain.training import build_pipeline

    data = Path(__file__).parent.parent.parent / "data" / "diamonds" / "diamonds_sample.csv"
    table = pd.read_csv(data).sample(frac=1.0, random_state=0).reset_index(drop=True)
    numeric, categorical = ["carat", "depth", "table", "x", "y", "z"], ["cut", "color", "clarity"]
    features = numeric + categorical
    train, reference, later = table.iloc[:2400], table.iloc[2400:3600], table.iloc[3600:]
    champion = build_pipeline(numeric, categorical, "regression", params={"max_iter": 100})
    champion.fit(train[features], train["price"])
    model = fit_loss_model(
        reference[features], reference["price"].to_numpy(float),
        champion.predict(reference[features]), numeric, categorical,
    )  # fmt: skip
    predicted = champion.predict(later[features])
    error = later["price"].to_numpy(float) - predicted
    absolute, squared = model.predict(later[features], predicted)
    rank = later["carat"].rank(pct=True).to_numpy()
    rng = np.random.default_rng(0)
    relative, covered, realized = [], [], []
    for k in range(40):
        weight = np.exp(3.0 * k / 40 * (rank - 0.5))
        day = rng.choice(len(later), size=500, replace=False, p=weight / weight.sum())
        shift = model.shift(later[features].iloc[day], predicted[day])
        estimate = estimate_regression(absolute[day], squared[day], model, shift=shift)
        realized.append(float(np.abs(error[day]).mean()))
        relative.append(abs(estimate.mae - realized[-1]) / realized[-1])
        covered.append(estimate.mae_low <= realized[-1] <= estimate.mae_high)
    assert np.mean(realized[-5:]) > 1.3 * np.mean(realized[:5])  # the shift raises the MAE
    assert np.mean(covered) >= 0.9
    assert np.mean(relative) <= 0.06
