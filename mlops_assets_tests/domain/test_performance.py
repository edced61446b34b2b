"""The day's performance verdict: labels compared as labels, drops judged against noise."""

import numpy as np
import pandas as pd
import pytest

from mlops_assets.domain.performance import (
    day_performance,
    is_labelled,
    judge_predictions,
    labels_by_value,
    performance_metric,
)

REFERENCE, REFERENCE_N = 0.946, 2000


def _day(n: int, correct: int, seed: int = 0) -> tuple[pd.Series, pd.Series]:
    """n labelled rows of a binary task of which `correct` are predicted right, shuffled."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    right = np.zeros(n, dtype=bool)
    right[rng.choice(n, correct, replace=False)] = True
    predicted = np.where(right, truth, 1 - truth)
    return pd.Series(truth), pd.Series(predicted)


def _judge(truth, predicted, **kwargs):
    return day_performance(
        "binary", truth, predicted, reference_value=REFERENCE, reference_n=REFERENCE_N, **kwargs
    )


def test_float_training_labels_match_int_batch_labels():
    truth = pd.Series([1, 0, 1, 1, 0])  # the batch read its labels as ints
    predicted = pd.Series([1.0, 0.0, 1.0, 0.0, 0.0])  # the model was trained on 1.0 / 0.0
    verdict = _judge(truth, predicted)
    assert verdict.day_value == pytest.approx(0.8)


def test_a_day_with_a_missing_label_is_judged_on_its_labelled_rows():
    # One missing label makes pandas read the column as float (1.0, NaN); predictions are ints.
    truth = pd.Series([1.0, 0.0, np.nan, 1.0])
    predicted = pd.Series([1, 0, 1, 1])
    verdict = _judge(truth, predicted)
    assert verdict.n == 3 and verdict.day_value == 1.0
    assert not verdict.dropped


def test_string_labels_match_numeric_predictions_of_the_same_class():
    verdict = _judge(pd.Series(["1", "0", "1"]), pd.Series([1, 0, 0]))
    assert verdict.day_value == pytest.approx(2 / 3)


def test_a_three_and_a_half_point_drop_on_5000_rows_alarms():
    verdict = _judge(*_day(5000, 4550))  # 0.910 against 0.946
    assert verdict.day_value == pytest.approx(0.910)
    assert verdict.dropped, verdict.reason
    assert verdict.difference == pytest.approx(0.036)
    assert verdict.difference_ci_low > 0
    assert verdict.day_ci_low < 0.910 < verdict.day_ci_high
    assert "performance dropped" in verdict.reason


def test_a_one_point_drop_on_200_rows_is_noise():
    verdict = _judge(*_day(200, 187))  # 0.935 against 0.946
    assert not verdict.dropped
    assert verdict.difference > 0.01  # beyond the minimum effect, but within noise
    assert verdict.difference_ci_low < 0 and "within noise" in verdict.reason


def test_a_clean_day_of_5000_rows_at_the_reference_accuracy_does_not_alarm():
    verdict = _judge(*_day(5000, 4730))  # 0.946
    assert not verdict.dropped and abs(verdict.difference) < 1e-9


def test_a_significant_drop_below_the_minimum_effect_does_not_alarm():
    # 0.946 on 50 000 test rows -> 0.936 on 100 000 rows is significant, but a 1-point drop.
    truth, predicted = _day(100_000, 93_600)

    def judge(min_effect):
        return day_performance(
            "binary",
            truth,
            predicted,
            reference_value=REFERENCE,
            reference_n=50_000,
            min_effect=min_effect,
        )

    assert judge(0.005).dropped
    held = judge(0.02)
    assert not held.dropped and "minimum effect" in held.reason


def test_the_reference_noise_widens_the_interval():
    truth, predicted = _day(5000, 4650)  # 0.930 against 0.946
    exact = day_performance("binary", truth, predicted, reference_value=REFERENCE, reference_n=None)
    small = day_performance("binary", truth, predicted, reference_value=REFERENCE, reference_n=150)
    assert exact.dropped and not small.dropped
    assert small.difference_ci_low < exact.difference_ci_low


def test_an_unlabelled_day_or_a_missing_reference_is_not_judged():
    unlabelled = _judge(pd.Series([np.nan, np.nan]), pd.Series([1, 0]))
    assert unlabelled.n == 0 and unlabelled.day_value is None and not unlabelled.dropped
    assert "performance_dropped" in unlabelled.to_metadata()
    assert "accuracy" not in unlabelled.to_metadata()
    no_reference = day_performance("binary", *_day(100, 90), reference_value=None, reference_n=None)
    assert no_reference.day_value == pytest.approx(0.9) and not no_reference.dropped


def _regression_day(n: int, noise: float, seed: int = 0) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    truth = rng.normal(100, 20, n)
    return pd.Series(truth), pd.Series(truth + rng.normal(0, noise, n))


def test_regression_rmse_rise_alarms_on_a_large_day_and_not_on_a_small_one():
    large = day_performance(
        "regression", *_regression_day(5000, 11.0), reference_value=10.0, reference_n=1000
    )
    assert large.metric == "rmse" and large.day_value == pytest.approx(11.0, rel=0.03)
    assert large.dropped and large.day_ci_low < large.day_value < large.day_ci_high
    small = day_performance(
        "regression", *_regression_day(50, 11.0), reference_value=10.0, reference_n=1000
    )
    assert not small.dropped and "within noise" in small.reason
    clean = day_performance(
        "regression", *_regression_day(5000, 10.0), reference_value=10.0, reference_n=1000
    )
    assert not clean.dropped


def test_regression_bootstrap_is_reproducible():
    day = _regression_day(300, 12.0)
    first = day_performance("regression", *day, reference_value=10.0, reference_n=500)
    again = day_performance("regression", *day, reference_value=10.0, reference_n=500)
    assert (first.day_ci_low, first.day_ci_high) == (again.day_ci_low, again.day_ci_high)


def test_metadata_holds_numbers_that_plot_and_the_keys_readers_use():
    metadata = _judge(*_day(5000, 4550)).to_metadata()
    assert metadata["performance_dropped"] is True
    for key in ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "reference_accuracy"):
        assert isinstance(metadata[key], float), key
    # What it was judged with is shown, not plotted flat across the days.
    assert metadata["performance_settings"]["reference_n"] == REFERENCE_N
    assert "reference_n" not in metadata and "performance_confidence" not in metadata


@pytest.mark.parametrize(
    "labels",
    [
        pd.Series([1, 0, 1, 2]),
        pd.Series([1.0, 0.0, 1.0, 2.0]),
        pd.Series(["1", "0", "1", "2"]),
        pd.Series(["1.0", "0", "1", "2.0"]),
        pd.Series([1, 0.0, "1", "2"], dtype=object),  # a column mixing all three
    ],
)
def test_labels_are_compared_by_value_whatever_their_type(labels):
    assert labels_by_value(labels).tolist() == ["1", "0", "1", "2"]
    verdict = _judge(labels, pd.Series([1.0, 0.0, 1.0, 1.0]))  # the model predicts floats
    assert verdict.day_value == pytest.approx(0.75)


def test_labels_by_value_keeps_text_booleans_fractions_and_missing_values():
    mixed = pd.Series(["yes", True, 2.5, "2.5", None, 1], dtype=object)
    assert labels_by_value(mixed).tolist() == ["yes", "True", "2.5", "2.5", np.nan, "1"]
    assert labels_by_value(pd.Series([True, False])).tolist() == ["True", "False"]


def test_predictions_of_an_unlabelled_day_are_not_judged():
    predictions = pd.DataFrame({"prediction": [1, 0, 1]})
    assert not is_labelled(predictions, "target")
    verdict = judge_predictions(
        "binary", "target", predictions, reference_value=REFERENCE, reference_n=REFERENCE_N
    )
    assert verdict.n == 0 and verdict.day_value is None and not verdict.dropped


def test_predictions_with_labels_are_judged_on_them():
    predictions = pd.DataFrame({"prediction": [1, 0, 1, 1], "target": [1.0, 0.0, np.nan, 0.0]})
    assert is_labelled(predictions, "target")
    verdict = judge_predictions(
        "binary", "target", predictions, reference_value=REFERENCE, reference_n=REFERENCE_N
    )
    assert verdict.n == 3 and verdict.day_value == pytest.approx(2 / 3)
    assert performance_metric("regression") == "rmse"
