"""Shadow in batch with the preprocessing computed once: the champion's and the challenger's
figures are exactly those of each pipeline scored whole, whatever they share."""

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

from mlops_assets.domain.shadow_scoring import paired_scorer, shared_preprocessing
from mlops_assets.domain.synthetic import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    TARGET_COLUMN,
    generate_daily_batch,
    generate_training_data,
)
from mlops_assets.domain.training import build_pipeline, predict_frame

FEATURES = (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES)


def _fit(estimator: str, seed: int, numeric=NUMERIC_FEATURES, task="binary", pandas=False):
    rows = generate_training_data(n_rows=1500, seed=seed)
    target = rows[TARGET_COLUMN] if task == "binary" else rows["income"].fillna(0.0)
    # Few trees: the figures compared are exact either way, and the tests stay quick.
    params = {"max_iter": 20} if estimator == "hist_gradient_boosting" else {}
    pipeline = build_pipeline(numeric, CATEGORICAL_FEATURES, task, estimator, params, seed)
    if pandas:
        pipeline.set_output(transform="pandas")
    return pipeline.fit(rows[[*numeric, *CATEGORICAL_FEATURES]], target)


@pytest.fixture(scope="module")
def day() -> pd.DataFrame:
    # Two days, one drifted: unseen and missing categories, numbers outside the training range.
    return pd.concat(
        [
            generate_daily_batch(date(2026, 1, 5), n_rows=700, seed=1),
            generate_daily_batch(
                date(2026, 1, 20), 700, "covariate", drift_start=date(2026, 1, 10), seed=2
            ),
        ],
        ignore_index=True,
    )


def _assert_same(pair, whole) -> None:
    for scored, own in zip(pair, whole, strict=True):
        (y_pred, proba, classes), (own_pred, own_proba, own_classes) = scored, own
        np.testing.assert_array_equal(y_pred, own_pred)
        assert classes == own_classes
        if own_proba is None:
            assert proba is None
        else:
            np.testing.assert_array_equal(proba, own_proba)


@pytest.mark.parametrize("estimator", ["hist_gradient_boosting", "linear"])
def test_a_retrained_challenger_shares_the_encoder_and_scores_as_its_own_pipeline(day, estimator):
    champion, challenger = _fit(estimator, seed=0), _fit(estimator, seed=1)
    scorer = paired_scorer(champion, FEATURES, challenger, FEATURES, "binary")
    # Other rows, other medians; the same category lists, so the same fitted encoder.
    assert scorer.shared is not None
    assert scorer.shared.shared_blocks == 1
    assert len(scorer.shared.blocks) == 3
    _assert_same(
        scorer.predict(day),
        [predict_frame(m, day[list(FEATURES)], "binary") for m in (champion, challenger)],
    )
    # Two different models: the test would not see a challenger scored as the champion.
    assert not np.array_equal(scorer.predict(day)[0][1], scorer.predict(day)[1][1])


def test_an_identical_challenger_shares_every_block(day):
    champion = _fit("hist_gradient_boosting", seed=0)
    challenger = _fit("hist_gradient_boosting", seed=0)
    shared = shared_preprocessing(champion, challenger)
    assert shared is not None and shared.shared_blocks == 2 and len(shared.blocks) == 2
    matrices = shared.matrices(day)
    assert matrices is not None
    own = champion.named_steps["preprocess"].transform(day)
    np.testing.assert_array_equal(matrices[0], own)
    np.testing.assert_array_equal(matrices[1], own)


def test_a_challenger_with_a_feature_the_champion_lacks_reads_it_from_the_same_rows(day):
    fewer = tuple(n for n in NUMERIC_FEATURES if n != "utilization")
    champion = _fit("hist_gradient_boosting", seed=0, numeric=fewer)
    challenger = _fit("hist_gradient_boosting", seed=1)
    champion_features = (*fewer, *CATEGORICAL_FEATURES)
    scorer = paired_scorer(champion, champion_features, challenger, FEATURES, "binary")
    assert scorer.shared is not None and scorer.shared.shared_blocks == 1
    _assert_same(
        scorer.predict(day),
        [
            predict_frame(champion, day[list(champion_features)], "binary"),
            predict_frame(challenger, day[list(FEATURES)], "binary"),
        ],
    )


def test_a_regressor_pair_shares_the_encoder_and_predicts_as_its_own_pipelines(day):
    numeric = tuple(n for n in NUMERIC_FEATURES if n != "income")
    champion = _fit("hist_gradient_boosting", seed=0, numeric=numeric, task="regression")
    challenger = _fit("hist_gradient_boosting", seed=1, numeric=numeric, task="regression")
    features = (*numeric, *CATEGORICAL_FEATURES)
    scorer = paired_scorer(champion, features, challenger, features, "regression")
    assert scorer.shared is not None
    _assert_same(
        scorer.predict(day),
        [predict_frame(m, day[list(features)], "regression") for m in (champion, challenger)],
    )


def test_models_that_are_not_a_column_transformer_pipeline_are_scored_whole(day):
    rows = generate_training_data(n_rows=800, seed=3)
    bare = DecisionTreeClassifier(max_depth=4, random_state=0).fit(
        rows[list(NUMERIC_FEATURES)].fillna(0.0), rows[TARGET_COLUMN]
    )
    pipeline = _fit("hist_gradient_boosting", seed=0)
    assert shared_preprocessing(pipeline, bare) is None
    assert shared_preprocessing(bare, pipeline) is None
    filled = day.fillna({n: 0.0 for n in NUMERIC_FEATURES})
    scorer = paired_scorer(pipeline, FEATURES, bare, NUMERIC_FEATURES, "binary")
    _assert_same(
        scorer.predict(filled),
        [
            predict_frame(pipeline, filled[list(FEATURES)], "binary"),
            predict_frame(bare, filled[list(NUMERIC_FEATURES)], "binary"),
        ],
    )


def test_a_pandas_output_falls_back_to_each_pipeline_whole(day):
    champion = _fit("linear", seed=0, pandas=True)
    challenger = _fit("linear", seed=1, pandas=True)
    scorer = paired_scorer(champion, FEATURES, challenger, FEATURES, "binary")
    assert scorer.shared is not None and scorer.shared.matrices(day) is None
    _assert_same(
        scorer.predict(day),
        [predict_frame(m, day[list(FEATURES)], "binary") for m in (champion, challenger)],
    )


@pytest.mark.parametrize("pandas", [False, True], ids=["shared", "whole"])
def test_a_sampled_challenger_scores_only_its_rows_as_its_own_pipeline_would(day, pandas):
    """A shadow share below 1: the champion scores every row, the challenger only the sampled
    ones, each figure exactly its own pipeline's on those rows (with the shared encoder, and
    scored whole when the preprocessing cannot be split)."""
    estimator = "linear" if pandas else "hist_gradient_boosting"
    champion = _fit(estimator, seed=0, pandas=pandas)
    challenger = _fit(estimator, seed=1, pandas=pandas)
    scorer = paired_scorer(champion, FEATURES, challenger, FEATURES, "binary")
    assert (scorer.shared is not None and scorer.shared.matrices(day) is not None) is not pandas
    sampled = np.random.default_rng(0).random(len(day)) < 0.3
    pair = scorer.predict(day, sampled)
    assert len(pair[0][0]) == len(day) and len(pair[1][0]) == sampled.sum()
    _assert_same(
        pair,
        [
            predict_frame(champion, day[list(FEATURES)], "binary"),
            predict_frame(challenger, day.loc[sampled, list(FEATURES)], "binary"),
        ],
    )
