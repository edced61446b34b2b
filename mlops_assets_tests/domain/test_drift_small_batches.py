"""Severity calibrated to the day's size (issue 29): clean days of 30 to 200 rows of real tables
rarely alarm, a real shift those rows can show is still found, and a feature with too few
values is `insufficient_data`, never drift.

The clean days go through `assess_day`, what drift_report calls, with a champion trained by the
product's own `split_data` / `fit_model` on the shipped samples of two real tables (census
employment_ma, one numeric feature; ggplot2's diamonds, seven numeric and two categorical, the
cut as a 5-class target: their READMEs give source and licence), each day drawn without
replacement from the test split, rows the model and its reference never saw
(scripts/measure_small_batches.py, which also measures the real tables of ../shared)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_assets.domain.drift import build_reference_profile, compute_drift
from mlops_assets.domain.health import drift_day_health
from scripts.measure_small_batches import (
    assess,
    clean_days,
    clopper_pearson,
    diamonds_sample,
    employment_sample,
    missing_tables,
    monitored,
)

CAR_LOAN = Path(__file__).parent.parent / "data" / "car_loan" / "train.csv"
LOAN_NUMERIC = ["car_value", "debt_to_income_ratio", "loan_length", "driver_tenure"]
LOAN_CATEGORICAL = ["salary_range", "repaid_loan_on_prev_car", "size_of_downpayment"]
# 400 clean days a size, 200 a table, each table's spread over two splits (two champions):
# at the 5 % target an alarm count has a standard error of 1.1 points, and the 95 % upper
# (Clopper-Pearson) bound of the counts measured is printed with each failure.
DAYS_PER_TABLE = 200
SPLITS = 2


@pytest.fixture(scope="module")
def champions():
    return {
        table.name: [monitored(table, seed) for seed in range(SPLITS)]
        for table in (employment_sample(), diamonds_sample())
    }


@pytest.mark.slow
@pytest.mark.parametrize("rows", [30, 50, 100, 200])
def test_clean_small_days_of_real_tables_rarely_alarm(champions, rows):
    results = [clean_days(models, rows, DAYS_PER_TABLE) for models in champions.values()]
    days = sum(r.days for r in results)
    alarms = sum(r.alarms for r in results)
    not_green = sum(r.check_warnings for r in results)
    low, high = clopper_pearson(alarms, days)
    # The severity (what drift_retraining_sensor and the alerts read) and the drift check
    # (what the UI paints, prediction drift included) both at most 5 % of clean days.
    assert alarms <= 0.05 * days, f"{alarms}/{days} alarmed, 95 % interval [{low:.3f}, {high:.3f}]"
    assert not_green <= 0.05 * days, f"{not_green}/{days} drift checks not green"
    # Counted per table too: one table's rate hidden by the other's would still be a defect.
    for name, result in zip(champions, results, strict=True):
        assert result.alarms <= 0.05 * result.days, (name, result)


@pytest.fixture(scope="module")
def gappy_champions():
    return {
        table.name: [monitored(table, seed) for seed in range(SPLITS)] for table in missing_tables()
    }


@pytest.mark.slow
@pytest.mark.parametrize("rows", [30, 50, 100, 200])
def test_clean_small_days_of_real_tables_with_missing_values_rarely_alarm(gappy_champions, rows):
    """Every numeric feature 30 % missing (diamonds, 7 of 9 features; online_shoppers, 10 of
    16): each day has a missing-share test per feature beside its drift test, and both kinds of
    finding set the severity. Judged as two families at 5 % each, clean days alarmed on 5.8 %
    (diamonds, 200 rows) and 6.0 % (online_shoppers, 100 rows) of 400, and this test failed
    (diamonds, 200 rows: 15 of its 200 days); one family across the day keeps the union at
    5 %. 400 days a size, 200 a table over two champions each."""
    results = [clean_days(models, rows, DAYS_PER_TABLE) for models in gappy_champions.values()]
    days = sum(r.days for r in results)
    alarms = sum(r.alarms for r in results)
    low, high = clopper_pearson(alarms, days)
    assert alarms <= 0.05 * days, f"{alarms}/{days} alarmed, 95 % interval [{low:.3f}, {high:.3f}]"
    for name, result in zip(gappy_champions, results, strict=True):
        assert result.alarms <= 0.05 * result.days, (name, result)


@pytest.mark.slow
@pytest.mark.parametrize(("table", "column"), [("diamonds", "carat"), ("employment", "AGEP")])
def test_a_real_shift_on_a_200_row_day_is_still_found(champions, table, column):
    """Days of 200 rows from the same unseen rows, the lowest 30 % of `column` left out (small
    stones, young people): a covariate shift that those rows can show."""
    watched = next(models[0] for name, models in champions.items() if name.startswith(table))
    values = watched.pool[column].to_numpy()
    eligible = np.flatnonzero(values >= np.quantile(values, 0.3))
    rng = np.random.default_rng(11)
    verdicts = [
        assess(watched, rng.choice(eligible, size=200, replace=False)).verdict for _ in range(20)
    ]
    assert sum(v.severity != "none" for v in verdicts) >= 19
    assert all(not drift_day_health(v).passed for v in verdicts)


def test_a_real_shift_of_one_feature_on_a_100_row_day_is_found_on_that_feature():
    loans = pd.read_csv(CAR_LOAN)
    reference, rest = loans.iloc[:1400], loans.iloc[1400:]
    profile = build_reference_profile(reference, LOAN_NUMERIC, LOAN_CATEGORICAL)
    day = rest.sample(n=100, random_state=0)
    day = day.assign(car_value=day["car_value"] * 1.6)
    result = compute_drift(profile, day)
    assert result.severity != "none"
    assert [f.feature for f in result.features if f.drifted] == ["car_value"]


def test_a_feature_with_too_few_values_is_insufficient_data_not_drift():
    loans = pd.read_csv(CAR_LOAN)
    profile = build_reference_profile(loans.iloc[:1400], LOAN_NUMERIC, LOAN_CATEGORICAL)
    day = loans.iloc[1400:1440].copy()
    day.loc[day.index[:25], "driver_tenure"] = np.nan  # 15 values left
    day["driver_tenure"] = day["driver_tenure"] * 3  # a shift, but on 15 values
    result = compute_drift(profile, day)
    tenure = next(f for f in result.features if f.feature == "driver_tenure")
    assert tenure.insufficient_data and not tenure.drifted
    assert tenure.current_n == 15
    assert result.insufficient_features == ("driver_tenure",)
    table = result.to_frame().set_index("feature")
    assert bool(table.loc["driver_tenure", "insufficient_data"])


def test_a_psi_above_0_2_on_a_tiny_clean_day_is_not_an_alarm():
    loans = pd.read_csv(CAR_LOAN)
    profile = build_reference_profile(loans.iloc[:1400], LOAN_NUMERIC, LOAN_CATEGORICAL)
    result = compute_drift(profile, loans.iloc[1400:1440])
    assert result.max_psi >= 0.2  # 10 bins on 40 rows: PSI is mostly noise
    assert all(f.psi_q_value > 0.05 for f in result.features if f.psi >= 0.2)
    assert result.severity == "none"


def test_a_rare_category_taking_over_a_small_day_of_a_wide_table_is_drift():
    """A wide table (60 numeric features and one categorical): on a 100-row day half the rows
    carry a category that is 1 % of training. Its expected count is under 5, so its chi-square
    p-value is a Monte Carlo one; with 999 draws its floor was 1/1000, above the 0.05 / 61 that
    Benjamini-Hochberg asks of a lone discovery among 61 tests, so the takeover was never drift
    (severity none) however extreme. The draws go on until the floor can pass."""
    rng = np.random.default_rng(3)
    numeric = [f"x{i}" for i in range(60)]

    def frame(rows: int, kinds: np.ndarray) -> pd.DataFrame:
        data = {name: rng.normal(size=rows) for name in numeric}
        return pd.DataFrame({**data, "kind": kinds})

    reference = frame(5000, rng.choice(["a", "b", "c"], size=5000, p=[0.6, 0.39, 0.01]))
    profile = build_reference_profile(reference, numeric, ["kind"])
    day = frame(100, np.array(["a"] * 30 + ["b"] * 20 + ["c"] * 50))
    result = compute_drift(profile, day)
    kind = next(f for f in result.features if f.feature == "kind")
    assert kind.significance_p_value < 0.05 / 61 / 2
    assert kind.drifted, (kind.significance_p_value, kind.q_value)
    assert result.severity != "none"
