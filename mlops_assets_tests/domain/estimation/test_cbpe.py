"""CBPE against a known data-generating process: P(y|x) logistic and fixed, x moves
(covariate shift), or P(y|x) changes (concept shift, the known limit)."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from mlops_assets.domain.estimation import estimate_classification, fit_calibrator
from mlops_assets.domain.estimation.cbpe import (
    expected_roc_auc,
    judge_estimate,
    out_of_support_share,
)

WEIGHTS = np.array([1.5, -1.0, 0.7])


def _day(rng: np.random.Generator, n: int, shift: float, weights=WEIGHTS):  # type: ignore[no-untyped-def]
    x = rng.normal(size=(n, 3)) + np.array([shift, 0.5 * shift, 0.0])
    p = 1 / (1 + np.exp(-(x @ weights - 0.3)))
    return x, (rng.random(n) < p).astype(int)


def _trained(rng: np.random.Generator):  # type: ignore[no-untyped-def]
    x, y = _day(rng, 6000, 0.0)
    model = LogisticRegression().fit(x[:4000], y[:4000])
    calibrator = fit_calibrator(model.predict_proba(x[4000:]), y[4000:], seed=0)
    return model, calibrator


def test_estimate_tracks_realized_accuracy_under_covariate_shift() -> None:
    rng = np.random.default_rng(7)
    model, calibrator = _trained(rng)
    errors, covered = [], []
    for day in range(18):
        x, y = _day(rng, 1500, shift=-1.2 + 0.15 * day)
        raw = model.predict_proba(x)
        estimate = estimate_classification(calibrator.apply(raw), raw.argmax(axis=1))
        realized = float((raw.argmax(axis=1) == y).mean())
        errors.append(abs(estimate.accuracy - realized))
        covered.append(estimate.accuracy_low <= realized <= estimate.accuracy_high)
    assert np.mean(errors) <= 0.02
    assert np.mean(covered) >= 0.8


def test_concept_shift_is_invisible_to_the_estimate_the_known_limit() -> None:
    rng = np.random.default_rng(3)
    model, calibrator = _trained(rng)
    x, y = _day(rng, 2000, 0.0, weights=-WEIGHTS)  # the same x, the relation reversed
    raw = model.predict_proba(x)
    estimate = estimate_classification(calibrator.apply(raw), raw.argmax(axis=1))
    realized = float((raw.argmax(axis=1) == y).mean())
    assert estimate.accuracy > 0.7  # the estimate still expects the reference accuracy
    assert realized < 0.4  # while the labels show the collapse


def test_expected_auc_equals_realized_auc_for_hard_labels_and_handles_ties() -> None:
    rng = np.random.default_rng(0)
    score = rng.integers(0, 20, size=500) / 20  # many ties
    labels = (rng.random(500) < score).astype(float)
    assert expected_roc_auc(labels, score) == roc_auc_score(labels, score)


def test_binary_estimate_reports_confusion_figures() -> None:
    calibrated = np.array([[0.1, 0.9], [0.2, 0.8], [0.7, 0.3], [0.6, 0.4]])
    est = estimate_classification(calibrated, np.array([1, 1, 0, 0]))
    assert est.accuracy == pytest.approx(0.75)
    assert est.precision == pytest.approx(0.85)
    assert est.recall == pytest.approx(1.7 / 2.4)


def test_untrusted_estimate_is_never_a_drop_and_a_trusted_one_is() -> None:
    est = estimate_classification(np.tile([[0.3, 0.7]], (2000, 1)), np.ones(2000, dtype=int))
    common = dict(reference_value=0.9, reference_n=2000)
    trusted, _, dropped, reason = judge_estimate(est, ece_after=0.01, out_of_support=0.0, **common)
    assert trusted and dropped and reason.startswith("estimated drop")
    trusted, why, dropped, _ = judge_estimate(est, ece_after=0.01, out_of_support=0.5, **common)
    assert not trusted and not dropped and "outside the training support" in why
    trusted, why, dropped, _ = judge_estimate(est, ece_after=0.2, out_of_support=0.0, **common)
    assert not trusted and not dropped and "calibration poor" in why


def test_out_of_support_share_counts_range_and_unseen_categories_once_per_row() -> None:
    share = out_of_support_share(
        {"age": np.array([10.0, 50.0, 99.0, np.nan])},
        {"age": (18.0, 90.0)},
        {"plan": np.array(["1", "2", "7", None], dtype=object)},
        {"plan": frozenset({"1", "2"})},
    )
    assert share == 0.5  # row 0 (age), row 2 (age and plan); missing values count inside


def test_estimate_tracks_the_built_in_models_accuracy_under_the_built_in_covariate_shift() -> None:
    """The product's own model and data, not a toy: the HistGradientBoosting pipeline that
    training_job fits on the built-in data, its calibrator fitted on the validation split, and
    twelve days of the built-in `covariate` scenario (near-prime applicants: accuracy falls by
    about 0.1 with the relation unchanged)."""
    from datetime import date, timedelta

    from mlops_assets.domain import synthetic
    from mlops_assets.domain.training import fit_model, split_data

    features = [*synthetic.NUMERIC_FEATURES, *synthetic.CATEGORICAL_FEATURES]
    target = synthetic.TARGET_COLUMN
    split = split_data(synthetic.generate_training_data(n_rows=5000), target, "binary", seed=0)
    pipeline = fit_model(
        split,
        target=target,
        numeric_features=synthetic.NUMERIC_FEATURES,
        categorical_features=synthetic.CATEGORICAL_FEATURES,
        task="binary",
    ).pipeline
    classes = np.asarray(pipeline.classes_)
    validation = pipeline.predict_proba(split.validation[features])
    calibrator = fit_calibrator(
        validation, np.searchsorted(classes, split.validation[target]), seed=0
    )
    start = date(2026, 1, 2)
    errors, covered, realized_by_scenario = [], [], {}
    for scenario in ("none", "covariate"):
        realized_days = []
        for offset in range(12):
            batch = synthetic.generate_daily_batch(
                start + timedelta(days=offset), scenario=scenario, drift_start=start
            )
            raw = pipeline.predict_proba(batch[features])
            estimate = estimate_classification(calibrator.apply(raw), raw.argmax(axis=1))
            realized = float((classes[raw.argmax(axis=1)] == batch[target]).mean())
            realized_days.append(realized)
            if scenario == "covariate":
                errors.append(abs(estimate.accuracy - realized))
                covered.append(estimate.accuracy_low <= realized <= estimate.accuracy_high)
        realized_by_scenario[scenario] = np.mean(realized_days)
    assert realized_by_scenario["none"] - realized_by_scenario["covariate"] > 0.08
    assert np.mean(errors) <= 0.02
    assert np.mean(covered) >= 0.8


def test_the_drop_rule_reads_the_estimates_noise_and_the_reason_shows_the_shift_too() -> None:
    # A day of confident rows only: far from a reference of every confidence, so its interval
    # carries a large shift bound on both ends, which the drop rule leaves out.
    rng = np.random.default_rng(3)
    positive = rng.beta(0.6, 0.6, size=3000)
    reference_raw = np.column_stack([1 - positive, positive])
    y = (rng.random(3000) < positive).astype(int)
    calibrator = fit_calibrator(reference_raw, y)
    day = np.tile([[0.08, 0.92]], (4000, 1)) + rng.normal(0, 0.01, (4000, 1)) * [[-1, 1]]
    est = estimate_classification(
        calibrator.apply(day), day.argmax(axis=1), raw=day, reference=calibrator.reference
    )
    assert est.accuracy_noise_half is not None
    shift = (est.accuracy_high - est.accuracy_low) / 2 - est.accuracy_noise_half
    assert shift > 0.05
    # The estimate is well below the test accuracy by its noise, not by its whole interval.
    reference_value = est.accuracy + 2 * est.accuracy_noise_half + 0.01
    assert est.accuracy_high > reference_value
    _, _, dropped, reason = judge_estimate(
        est, ece_after=0.01, out_of_support=0.0, reference_value=reference_value, reference_n=None
    )
    assert dropped and reason.startswith("estimated drop")
    assert f"[{est.accuracy_low:.3f}, {est.accuracy_high:.3f}]" in reason
    assert "noise alone" in reason
