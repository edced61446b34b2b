"""Severity calibrated to the day's size (issue 29): clean days of 30 to 200 rows of real tables
rarely alarm, a real shift those rows can show is still found, and a feature with too few
values is `insufficient_data`, never drift.

Each clean day is drawn from rows the reference never saw, with a fresh reference split per day,
so the rate measured is the one a new model meets, not the luck of one split."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from mlops_assets.domain.drift import build_reference_profile, compute_drift

CAR_LOAN = Path(__file__).parent.parent / "data" / "car_loan" / "train.csv"
LOAN_NUMERIC = ["car_value", "debt_to_income_ratio", "loan_length", "driver_tenure"]
LOAN_CATEGORICAL = ["salary_range", "repaid_loan_on_prev_car", "size_of_downpayment"]
DAYS = 120


def _alarm_share(frame, numeric, categorical, rows: int) -> float:
    alarms = 0
    for seed in range(DAYS):
        reference = frame.sample(frac=0.6, random_state=seed)
        day = frame.drop(reference.index).sample(n=rows, random_state=seed + 7)
        profile = build_reference_profile(reference, numeric, categorical)
        alarms += compute_drift(profile, day).severity != "none"
    return alarms / DAYS


@pytest.mark.slow
@pytest.mark.parametrize("rows", [30, 50, 200])
def test_clean_small_days_of_real_tables_rarely_alarm(rows):
    loans = pd.read_csv(CAR_LOAN)
    cancer = load_breast_cancer(as_frame=True).frame
    # 5 % is the target; 120 days a size leave about 2 points of sampling error around it.
    assert _alarm_share(loans, LOAN_NUMERIC, LOAN_CATEGORICAL, rows) <= 0.07
    assert _alarm_share(cancer, list(cancer.columns[:15]), [], rows) <= 0.07


def test_a_real_shift_on_a_small_day_is_still_found():
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
