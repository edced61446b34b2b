"""The leakage guard on real tables (scikit-learn's bundled datasets) with leaks built the way
production tables leak: a remapped copy of the label, an earlier model's outputs, a copy of
the target with a few rows changed."""

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression

from mlops_assets.domain.leakage import (
    DEFAULT_LEAKAGE_THRESHOLD,
    REASON_EQUALS_TARGET,
    REASON_NAME,
    REASON_SOLO_SCORE,
    find_leaky_features,
    named_like_a_prediction,
)
from mlops_assets.domain.training import split_data


def _report(frame, target="target", task="binary", categorical=(), seed=42, **kwargs):
    split = split_data(frame, target, task, seed=seed)
    numeric = [c for c in frame.columns if c != target and c not in categorical]
    return find_leaky_features(
        split.train,
        split.validation,
        target=target,
        numeric_features=numeric,
        categorical_features=list(categorical),
        task=task,
        **kwargs,
    )


@pytest.fixture(scope="module")
def breast_cancer() -> pd.DataFrame:
    return load_breast_cancer(as_frame=True).frame


def test_honest_breast_cancer_has_no_leak_at_the_default_threshold(breast_cancer):
    report = _report(breast_cancer)
    assert report.leaky == ()
    best = max(report.solo_scores.values())
    # The strongest honest features (worst radius/perimeter/concave points) alone score
    # about 0.94 here: strong, yet clearly below 0.98.
    assert 0.9 < best < DEFAULT_LEAKAGE_THRESHOLD
    assert set(report.solo_scores) == set(breast_cancer.columns) - {"target"}


def test_a_remapped_copy_of_the_label_is_leaky_numeric_or_categorical(breast_cancer):
    leaked = breast_cancer.assign(
        diagnosis_code=breast_cancer["target"].map({0: 7.0, 1: 3.0}),
        diagnosis=breast_cancer["target"].map({0: "malignant", 1: "benign"}),
    )
    report = _report(leaked, categorical=("diagnosis",))
    found = {f.feature: f for f in report.leaky}
    assert set(found) == {"diagnosis_code", "diagnosis"}
    assert found["diagnosis_code"].solo_score == pytest.approx(1.0)
    assert found["diagnosis"].solo_score == pytest.approx(1.0)
    assert found["diagnosis_code"].reason == REASON_SOLO_SCORE
    assert "diagnosis_code (solo score 1.000" in found["diagnosis_code"].describe()
    assert "| diagnosis_code | 1 | True | solo_score |" in report.markdown()


def test_an_earlier_models_outputs_are_flagged_by_name(breast_cancer):
    # A loan book keeps the previous model's outputs beside the features.
    rng = np.random.default_rng(0)
    features = breast_cancer.drop(columns="target")
    earlier = LogisticRegression(max_iter=5000).fit(features[:200], breast_cancer["target"][:200])
    frame = breast_cancer.assign(
        y_pred_proba=earlier.predict_proba(features)[:, 1].round(3),
        y_pred=earlier.predict(features),
        # Named like a score but a plain feature: an applicant's bureau score is no prediction.
        credit_score=rng.integers(300, 850, len(breast_cancer)),
    )
    report = _report(frame)
    found = {f.feature: f for f in report.leaky}
    assert {"y_pred_proba", "y_pred"} <= set(found)
    assert "credit_score" not in found
    assert REASON_NAME in found["y_pred"].reason
    assert REASON_NAME in found["y_pred_proba"].reason


@pytest.mark.parametrize(
    "name",
    ["y_pred", "Y_PRED_PROBA", "pred", "prediction", "predicted_default", "score", "proba_1",
     "probability", "model_score", "yPred", "old.prediction"],
)  # fmt: skip
def test_prediction_like_names_are_recognised(name):
    assert named_like_a_prediction(name)


@pytest.mark.parametrize(
    "name",
    [
        "credit_score",
        "predator_count",
        "approbation",
        "income",
        "scores_total",
        "age",
        # Real columns that start like "proba": a loan book's probation, a case file's cause.
        "probation_months",
        "on_probation",
        "probable_cause",
    ],
)
def test_ordinary_names_are_not_taken_for_predictions(name):
    assert not named_like_a_prediction(name)


def test_a_near_copy_of_the_target_is_flagged_even_below_the_score_threshold(breast_cancer):
    copy = breast_cancer["target"].copy()
    copy.iloc[:3] = 1 - copy.iloc[:3]  # 3 of 569 rows differ: 99.5% equal
    report = _report(breast_cancer.assign(outcome_flag=copy), threshold=1.0)
    found = {f.feature: f for f in report.leaky}
    assert set(found) == {"outcome_flag"}
    assert REASON_EQUALS_TARGET in found["outcome_flag"].reason


def test_a_column_filled_only_when_the_outcome_happened_is_leaky(breast_cancer):
    # Like a passenger's `body` number: present only for one outcome, missing otherwise.
    rng = np.random.default_rng(1)
    body = pd.Series(rng.integers(1, 300, len(breast_cancer)), dtype=float)
    body[breast_cancer["target"] == 1] = np.nan
    report = _report(breast_cancer.assign(body=body))
    assert [f.feature for f in report.leaky] == ["body"]


def test_multiclass_and_regression_copies_are_leaky_and_honest_columns_are_not():
    iris = load_iris(as_frame=True).frame.drop(columns=["petal width (cm)", "petal length (cm)"])
    report = _report(iris.assign(code=iris["target"] * 10 + 5), task="multiclass")
    assert [f.feature for f in report.leaky] == ["code"]

    diabetes = load_diabetes(as_frame=True).frame
    honest = _report(diabetes, task="regression")
    assert honest.leaky == () and max(honest.solo_scores.values()) < 0.6
    leaked = _report(diabetes.assign(t2=diabetes["target"] * 2 + 1), task="regression")
    assert [f.feature for f in leaked.leaky] == ["t2"]
    assert leaked.leaky[0].solo_score > DEFAULT_LEAKAGE_THRESHOLD


def test_the_check_is_cheap_on_15_features_and_5000_rows():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(5000, 12)), columns=[f"x{i}" for i in range(12)])
    for i in range(3):
        frame[f"c{i}"] = rng.choice(list("abcdefgh"), 5000)
    frame["target"] = (frame["x0"] + rng.normal(size=5000) > 0).astype(int)
    split = split_data(frame, "target", "binary", seed=0)
    arguments = {
        "target": "target",
        "numeric_features": [f"x{i}" for i in range(12)],
        "categorical_features": ["c0", "c1", "c2"],
        "task": "binary",
    }
    find_leaky_features(split.train, split.validation, **arguments)  # imports out of the timing
    started = time.perf_counter()
    report = find_leaky_features(split.train, split.validation, **arguments)
    elapsed = time.perf_counter() - started
    assert report.leaky == ()
    assert elapsed < 1.0, f"leakage check took {elapsed:.2f} s"
