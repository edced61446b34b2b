"""The champion comparison and the gate's judgement of it, on tiny regression data."""

import numpy as np
import pandas as pd

from mlops_assets.domain.evaluation import Predictions
from mlops_assets.domain.promotion import (
    ComparisonSettings,
    GateConfig,
    compare_predictions,
    incompatible_champion,
    judge,
)

RNG = np.random.default_rng(0)
N = 400
Y = RNG.normal(size=N)
TEST = pd.DataFrame({"region": np.where(np.arange(N) % 2 == 0, "north", "south"), "y": Y})
SETTINGS = ComparisonSettings(bootstrap_resamples=500, slice_min_rows=100)


def _regression(noise: float) -> Predictions:
    return Predictions(Y, Y + RNG.normal(scale=noise, size=N), None, None)


def test_a_challenger_with_smaller_errors_is_clearly_better_overall_and_per_slice():
    comparison = compare_predictions(
        version="3",
        task="regression",
        test=TEST,
        categorical_features=("region",),
        challenger=_regression(0.1),
        champion=_regression(1.0),
        settings=SETTINGS,
        schema_detail="compatible",
    )
    assert comparison.version == "3" and comparison.schema_compatible
    assert comparison.overall is not None and comparison.overall.n == N
    assert comparison.overall.ci_low > 0  # improvement = champion loss - challenger loss
    assert {(column, value) for column, value, _ in comparison.slices} == {
        ("region", "north"),
        ("region", "south"),
    }
    assert set(comparison.metrics) >= {"rmse", "r2"}
    decision = judge({"r2": 0.9}, GateConfig().for_task("regression"), comparison, ())
    assert decision.promote


def test_a_champion_with_another_schema_rejects_the_candidate_on_the_schema_alone():
    champion = incompatible_champion("2", "column 'age' removed")
    decision = judge({"r2": 0.9}, GateConfig().for_task("regression"), champion, ())
    assert not decision.promote
    assert "schema incompatible with the champion's (column 'age' removed)" in decision.reasons[0]


def test_without_a_champion_the_floors_alone_decide():
    assert judge({"r2": 0.5}, GateConfig().for_task("regression"), None, ()).promote
    assert not judge({"r2": -0.1}, GateConfig().for_task("regression"), None, ()).promote
