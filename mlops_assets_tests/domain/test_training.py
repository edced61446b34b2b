import numpy as np
import pandas as pd
import pytest

from mlops_assets.domain.training import (
    TrainingWindow,
    build_pipeline,
    fit_model,
    predict_frame,
    split_data,
    training_window,
)


def _classification_frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], size=n)
    y = ((x + (color == "red") * 1.5 + rng.normal(scale=0.5, size=n)) > 0.5).astype(int)
    x[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "color": color,
            "when": pd.date_range("2026-01-01", periods=n, freq="h"),
            "y": y,
        }
    )


def test_split_is_reproducible_disjoint_and_stratified():
    frame = _classification_frame()
    a = split_data(frame, "y", "binary", seed=3)
    b = split_data(frame, "y", "binary", seed=3)
    assert a.test.index.equals(b.test.index)
    indices = [set(a.train.index), set(a.validation.index), set(a.test.index)]
    assert sum(map(len, indices)) == len(frame)
    assert not (indices[0] & indices[1]) and not (indices[0] & indices[2])
    overall_rate = frame["y"].mean()
    assert abs(a.test["y"].mean() - overall_rate) < 0.02
    assert not split_data(frame, "y", "binary", seed=4).test.index.equals(a.test.index)


def test_time_ordered_split_tests_on_the_most_recent_rows():
    frame = _classification_frame().sample(frac=1.0, random_state=0)
    split = split_data(frame, "y", "binary", seed=0, timestamp_column="when")
    assert split.train["when"].max() < split.validation["when"].min()
    assert split.validation["when"].max() < split.test["when"].min()
    assert len(split.test) == 120


def test_time_ordered_split_orders_text_dates_as_moments_not_as_strings():
    # US-style dates: as text "12/31/2025" sorts after "01/01/2026".
    frame = _classification_frame()
    days = pd.date_range("2025-01-01", periods=len(frame), freq="D")
    frame["when"] = days.strftime("%m/%d/%Y")
    split = split_data(
        frame.sample(frac=1.0, random_state=0), "y", "binary", seed=0, timestamp_column="when"
    )
    moment = lambda part: pd.to_datetime(part["when"], format="%m/%d/%Y")  # noqa: E731
    assert moment(split.train).max() < moment(split.validation).min()
    assert moment(split.validation).max() < moment(split.test).min()


def test_invalid_split_sizes_are_rejected():
    with pytest.raises(ValueError, match="leave rows for training"):
        split_data(
            _classification_frame(), "y", "binary", seed=0, test_size=0.5, validation_size=0.5
        )


@pytest.mark.parametrize("estimator", ["hist_gradient_boosting", "random_forest", "linear"])
def test_pipeline_learns_and_scores_unseen_categories(estimator):
    frame = _classification_frame()
    split = split_data(frame, "y", "binary", seed=0)
    fit = fit_model(
        split,
        target="y",
        numeric_features=["x"],
        categorical_features=["color"],
        task="binary",
        estimator=estimator,
    )
    accuracy = fit.pipeline.score(split.test[["x", "color"]], split.test["y"])
    assert accuracy > 0.75
    unseen = pd.DataFrame({"x": [0.1, np.nan], "color": ["purple", None]})
    assert fit.pipeline.predict_proba(unseen).shape == (2, 2)


def test_search_ranks_candidates_on_validation_only_and_is_reproducible():
    split = split_data(_classification_frame(), "y", "binary", seed=0)
    kwargs = dict(target="y", numeric_features=["x"], categorical_features=["color"], task="binary")
    a = fit_model(split, search_iterations=3, seed=1, **kwargs)
    b = fit_model(split, search_iterations=3, seed=1, **kwargs)
    assert len(a.search_results) == 3
    assert a.params == b.params
    best = max(a.search_results, key=lambda r: r["validation_score"])
    assert all(a.params[k] == best[k] for k in a.params)


def test_regression_pipeline_fits_a_linear_relation():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(["a", "b"], size=400)})
    frame["y"] = 3 * frame["x"] + (frame["c"] == "a") + rng.normal(scale=0.1, size=400)
    split = split_data(frame, "y", "regression", seed=0)
    pipeline = build_pipeline(["x"], ["c"], "regression", "linear")
    pipeline.fit(split.train[["x", "c"]], split.train["y"])
    assert pipeline.score(split.test[["x", "c"]], split.test["y"]) > 0.95


@pytest.mark.parametrize("estimator", ["hist_gradient_boosting", "random_forest", "linear"])
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_one_pass_predictions_equal_the_estimators_own_predict(estimator, task):
    """predict_frame takes the label from predict_proba's argmax (one pass): it must be
    exactly what each estimator's `predict` says, string labels included."""
    frame = _classification_frame(n=900, seed=1)
    if task == "multiclass":
        frame["y"] = np.select([frame["x"] < -0.5, frame["x"] < 0.5], ["low", "mid"], "high")
    split = split_data(frame, "y", task, seed=0)
    fit = fit_model(
        split,
        target="y",
        numeric_features=["x"],
        categorical_features=["color"],
        task=task,
        estimator=estimator,
    )
    features = split.test[["x", "color"]]
    y_pred, proba, classes = predict_frame(fit.pipeline, features, task)
    np.testing.assert_array_equal(y_pred, fit.pipeline.predict(features))
    np.testing.assert_allclose(proba, fit.pipeline.predict_proba(features))
    assert classes == tuple(fit.pipeline.classes_) and len(classes) == (
        2 if task == "binary" else 3
    )


def test_training_window_is_the_first_and_last_day_of_the_first_date_column_with_dates():
    rows = pd.DataFrame(
        {
            "empty": [None, None, None],
            "signed_on": ["2025-12-31", "2025-10-03", "not a date"],
            "x": [1, 2, 3],
        }
    )
    assert training_window(rows, ["missing", "empty", "signed_on"]) == TrainingWindow(
        "2025-10-03", "2025-12-31", "signed_on"
    )
    assert training_window(rows, ["empty"]) is None
    assert training_window(rows, []) is None


def test_gradient_boosting_splits_on_categories_natively_and_routes_unseen_ones_as_missing():
    frame = _classification_frame(n=900)
    split = split_data(frame, "y", "binary", seed=0)
    fit = fit_model(
        split,
        target="y",
        numeric_features=["x"],
        categorical_features=["color"],
        task="binary",
    )
    # One column per feature (no one-hot), the categorical one declared to the trees.
    encoded = fit.pipeline.named_steps["preprocess"].transform(split.test[["x", "color"]])
    assert encoded.shape == (len(split.test), 2)
    assert list(fit.pipeline.named_steps["model"].is_categorical_) == [True, False]
    rows = pd.DataFrame({"x": [0.3, 0.3, 0.3], "color": ["purple", None, "red"]})
    proba = fit.pipeline.predict_proba(rows)[:, 1]
    assert proba[0] == proba[1]
    assert proba[2] > proba[0] + 0.2  # red is the category that raises y
