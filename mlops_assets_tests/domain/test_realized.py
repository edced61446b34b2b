"""Realized metrics on scikit-learn's bundled tables with real fitted models."""

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlops_assets.domain.realized import realized_metrics


def _classifier(loader):
    x, y = loader(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200, C=0.05))
    model.fit(x_train, y_train)
    return model, x_test, y_test


@pytest.mark.parametrize("loader", [load_breast_cancer, load_wine])
def test_classification_metrics_equal_sklearn_with_intervals_around_them(loader):
    model, x, y = _classifier(loader)
    predicted, proba = model.predict(x), model.predict_proba(x)
    classes = [str(c) for c in model.classes_]
    got = realized_metrics(
        "binary" if len(classes) == 2 else "multiclass",
        pd.Series(y),
        pd.Series(predicted.astype(float)),  # float predictions against int labels
        classes=classes,
        proba=proba,
    )
    auc_input = proba[:, 1] if len(classes) == 2 else proba
    expected = {
        "accuracy": metrics.accuracy_score(y, predicted),
        "balanced_accuracy": metrics.balanced_accuracy_score(y, predicted),
        "f1_macro": metrics.f1_score(y, predicted, average="macro"),
        "roc_auc": metrics.roc_auc_score(y, auc_input, multi_class="ovr"),
        "log_loss": metrics.log_loss(y, proba),
    }
    for name, value in expected.items():
        v, low, high = got[name]
        assert v == pytest.approx(value, abs=1e-9), name
        assert low <= v <= high and high - low > 0, name


def test_classification_intervals_shrink_with_more_rows():
    x, y = load_breast_cancer(return_X_y=True)
    # Two features only: a model that errs, so no metric sits at its bound on 60 rows.
    model = LogisticRegression(max_iter=500).fit(x[::2, :2], y[::2])
    x, y = x[1::2, :2], y[1::2]
    predicted, proba = model.predict(x), model.predict_proba(x)
    small = realized_metrics(
        "binary", pd.Series(y[:60]), pd.Series(predicted[:60]), classes=["0", "1"], proba=proba[:60]
    )
    large = realized_metrics(
        "binary", pd.Series(y), pd.Series(predicted), classes=["0", "1"], proba=proba
    )
    for name in ("accuracy", "balanced_accuracy", "f1_macro", "log_loss", "roc_auc"):
        assert large[name][2] - large[name][1] < small[name][2] - small[name][1], name


def test_regression_metrics_equal_sklearn_and_shrink_with_n():
    x, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(x[:200], y[:200])
    predicted = model.predict(x[200:])
    truth = y[200:]
    got = realized_metrics("regression", pd.Series(truth), pd.Series(predicted))
    assert got["rmse"][0] == pytest.approx(np.sqrt(metrics.mean_squared_error(truth, predicted)))
    assert got["mae"][0] == pytest.approx(metrics.mean_absolute_error(truth, predicted))
    assert got["r2"][0] == pytest.approx(metrics.r2_score(truth, predicted))
    small = realized_metrics("regression", pd.Series(truth[:40]), pd.Series(predicted[:40]))
    for name in ("rmse", "mae", "r2"):
        v, low, high = got[name]
        assert low < v < high, name
        assert high - low < small[name][2] - small[name][1], name


def test_unlabelled_rows_are_left_out_and_no_labels_gives_no_metrics():
    truth = pd.Series([1, None, 0, 1])
    got = realized_metrics("binary", truth, pd.Series([1, 0, 0, 0]), classes=["0", "1"])
    assert got["accuracy"][0] == pytest.approx(2 / 3)
    assert "roc_auc" not in got  # no probabilities given
    assert realized_metrics("binary", pd.Series([None, None]), pd.Series([1, 0])) == {}


def test_a_loss_interval_never_goes_below_zero_on_a_confident_day_with_one_miss():
    """What a real day gave (palmerpenguins, 40 birds): confident and right on 39, badly wrong
    on one. The losses are that skewed; a normal interval around their mean crossed 0."""
    truth = pd.Series(["a"] * 39 + ["b"])
    proba = np.tile([0.999, 0.001], (40, 1))
    got = realized_metrics("binary", truth, pd.Series(["a"] * 40), classes=["a", "b"], proba=proba)
    value, low, high = got["log_loss"]
    assert (
        value - 1.96 * np.std(-np.log(np.where(truth == "a", 0.999, 0.001)), ddof=1) / np.sqrt(40)
        < 0
    )  # the normal interval's own lower end
    assert low == 0.0 < value < high

    errors = pd.Series([0.0] * 39 + [100.0])
    got = realized_metrics("regression", errors, pd.Series([0.0] * 40))
    assert got["mae"][1] == 0.0 < got["mae"][0] < got["mae"][2]
