"""One monitored day without Dagster: chunks scored lazily with running totals, and the day's
drift, prediction drift and performance assembled into the DriftVerdict the sensor reads."""

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlops_assets.domain.data_quality import DataQualityConfig
from mlops_assets.domain.drift import benjamini_hochberg, build_reference_profile, compute_drift
from mlops_assets.domain.monitoring import ScoringTotals, assess_day, score_batches
from mlops_assets.domain.quality_tests import data_quality_tests
from mlops_assets.domain.schemas import infer_schema
from mlops_assets.domain.verdicts import DriftVerdict

DAY = date(2026, 1, 5)
SCORE = "__score__"


def _frame(n: int, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    z = rng.normal(0.0, 1.0, n)
    return pd.DataFrame(
        {"customer": np.arange(n), "x": x, "z": z, "target": (x + 0.1 * z > shift).astype(int)}
    )


@pytest.fixture(scope="module")
def trained():
    training = _frame(2000)
    schema = infer_schema(training, target="target", id_columns=("customer",))
    model = LogisticRegression().fit(training[schema.feature_columns], training["target"])
    profile = build_reference_profile(training, schema.numeric_features, ())
    reference_scores = model.predict_proba(training[schema.feature_columns])[:, 1]
    return schema, model, profile, reference_scores


def _scored(
    trained, day: pd.DataFrame, chunk: int, threads: int = 1
) -> tuple[pd.DataFrame, ScoringTotals]:
    schema, model, _, _ = trained
    totals = ScoringTotals()
    chunks = (day.iloc[i : i + chunk] for i in range(0, len(day), chunk))
    batches = score_batches(
        model,
        chunks,
        schema,
        ["customer"],
        "3",
        "abc",
        totals,
        score_column=SCORE,
        threads=threads,
    )
    return pd.concat(list(batches), ignore_index=True), totals


def test_chunks_are_scored_with_ids_rows_labels_and_lineage(trained):
    day = _frame(250, seed=1)
    predictions, totals = _scored(trained, day, chunk=100)
    assert predictions["customer"].tolist() == day["customer"].tolist()
    assert predictions["row"].tolist() == list(range(250))
    assert predictions["target"].tolist() == day["target"].tolist()
    assert set(predictions["model_version"]) == {"3"}
    assert set(predictions["training_data_hash"]) == {"abc"}
    assert totals.rows == 250
    assert totals.mean_score == pytest.approx(predictions[SCORE].mean())


def test_chunked_scoring_equals_scoring_the_day_at_once(trained):
    day = _frame(250, seed=1)
    chunked, _ = _scored(trained, day, chunk=7)
    whole, _ = _scored(trained, day, chunk=250)
    pd.testing.assert_frame_equal(chunked, whole)


@pytest.mark.parametrize("threads", [2, 3])
def test_chunks_scored_by_threads_come_in_order_and_equal_one_at_a_time(trained, threads):
    day = _frame(2500, seed=2)
    threaded, threaded_totals = _scored(trained, day, chunk=90, threads=threads)
    serial, serial_totals = _scored(trained, day, chunk=90)
    pd.testing.assert_frame_equal(threaded, serial)
    assert threaded["row"].tolist() == list(range(2500))
    assert (threaded_totals.rows, threaded_totals.score_sum) == (
        serial_totals.rows,
        serial_totals.score_sum,
    )


def test_a_chunk_that_fails_in_a_thread_fails_the_scoring_and_takes_no_more_chunks(trained):
    schema, model, _, _ = trained
    taken = []

    def chunks():
        for i in range(20):
            taken.append(i)
            chunk = _frame(50, seed=i)
            yield chunk.drop(columns="z") if i == 3 else chunk

    batches = score_batches(
        model,
        chunks(),
        schema,
        ["customer"],
        "3",
        "abc",
        ScoringTotals(),
        score_column=SCORE,
        threads=2,
    )
    with pytest.raises(KeyError, match="z"):
        list(batches)
    # The failing chunk and the `threads` read ahead of it, no more.
    assert taken == list(range(3 + 1 + 2))


def test_scoring_is_lazy_and_no_rows_have_no_mean(trained):
    schema, model, _, _ = trained
    totals = ScoringTotals()
    batches = score_batches(model, iter([]), schema, [], "3", "abc", totals, score_column=SCORE)
    assert totals.rows == 0  # nothing is scored before the IO manager asks
    assert list(batches) == []
    assert np.isnan(totals.mean_score)


def _assess(trained, day: pd.DataFrame, **kwargs):
    schema, _, profile, reference_scores = trained
    predictions, _ = _scored(trained, day, chunk=1000)
    return assess_day(
        DAY,
        "3",
        schema,
        profile,
        day,
        predictions,
        reference_scores,
        score_column=SCORE,
        reference_value=kwargs.pop("reference_value", 0.97),
        reference_n=kwargs.pop("reference_n", 400),
        **kwargs,
    )


def test_a_clean_day_holds_and_a_shifted_day_is_critical(trained):
    clean = _assess(trained, _frame(1000, seed=2)).verdict
    assert (clean.day, clean.model_version, clean.severity) == (DAY, "3", "none")
    assert clean.drifted_features == 0 and not clean.dataset_drift
    assert clean.performance.metric == "accuracy" and not clean.performance.dropped
    assert clean.performance.n == 1000

    shifted = _assess(trained, _frame(1000, shift=2.0, seed=3)).verdict
    assert shifted.severity == "critical" and shifted.dataset_drift
    assert shifted.drifted_share == 0.5  # x moved, z did not
    assert shifted.prediction_drift and shifted.prediction_psi > 0.25
    assert shifted.performance.dropped, shifted.performance.reason


def test_a_column_gone_missing_is_the_days_drift_through_data_quality(trained):
    schema, _, profile, reference_scores = trained
    day = _frame(1000, seed=6)
    predictions, _ = _scored(trained, day, chunk=1000)
    verdict = assess_day(
        DAY, "3", schema, profile, day.assign(z=np.nan), predictions, reference_scores,
        score_column=SCORE, reference_value=None, reference_n=None,
    ).verdict  # fmt: skip
    assert verdict.drifted_features == 0
    assert verdict.severity == "critical"  # all of `z` newly missing: a quarter or more
    assert verdict.data_quality_findings == ("`z`: 100.0% missing against 0.0% in training",)
    assert DriftVerdict.from_metadata(DAY, verdict.to_metadata()) == verdict


def test_the_days_drift_and_data_quality_tests_are_one_false_discovery_family(trained):
    """Both kinds of finding set the day's severity, so one Benjamini-Hochberg control runs
    over the features', the score's and the data-quality tests (issue 29: at most 5 % of clean
    days alarm; two families at 5 % each let 6.1 % of clean 50-row days of 20 features 30 %
    missing alarm). Each q-value the day reports is its test's in that one family."""
    schema, _, profile, reference_scores = trained
    day = _frame(300, seed=7)
    predictions, _ = _scored(trained, day, chunk=300)
    day.loc[day.index[:12], "z"] = np.nan  # a few gaps: a missing-share test with p < 1
    assessment = assess_day(
        DAY, "3", schema, profile, day, predictions, reference_scores,
        score_column=SCORE, reference_value=None, reference_n=None,
    )  # fmt: skip
    alone = compute_drift(
        profile, day[schema.feature_columns], scores=(reference_scores, predictions[SCORE])
    )
    quality = data_quality_tests(profile, day)
    assert alone.prediction is not None
    drift_p = [f.significance_p_value for f in alone.features] + [
        alone.prediction.significance_p_value
    ]
    family = benjamini_hochberg(np.r_[drift_p, quality.p_values])
    features = len(alone.features)
    reported = assessment.features.set_index("feature")
    for k, name in enumerate(schema.feature_columns):
        assert reported.loc[name, "q_value"] == pytest.approx(family[k])
    missing_q = [f.missing_q_value for f in assessment.data_quality.features]
    assert missing_q == pytest.approx(list(family[features + 1 :]))
    # The family is wider than either alone: the same p-value gets a larger q-value.
    assert missing_q[1] > benjamini_hochberg(quality.p_values)[1]


def test_a_data_quality_level_apart_from_the_drift_level_is_refused(trained):
    schema, _, profile, reference_scores = trained
    day = _frame(100, seed=8)
    predictions, _ = _scored(trained, day, chunk=100)
    with pytest.raises(ValueError, match="one false-discovery family"):
        assess_day(
            DAY, "3", schema, profile, day, predictions, reference_scores,
            score_column=SCORE, reference_value=None, reference_n=None,
            data_quality_config=DataQualityConfig(fdr=0.1),
        )  # fmt: skip


def test_an_unlabelled_day_is_judged_on_drift_only(trained):
    day = _frame(500, seed=4).drop(columns="target")
    verdict = _assess(trained, day).verdict
    assert verdict.performance.n == 0 and verdict.performance.day_value is None
    assert not verdict.performance.dropped
    assert DriftVerdict.from_metadata(DAY, verdict.to_metadata()) == verdict


def test_the_json_report_holds_the_verdict_and_every_feature(trained):
    assessment = _assess(trained, _frame(300, seed=5))
    report = json.loads(assessment.report_json())
    assert report["partition"] == "2026-01-05"
    assert report["model_version"] == "3"
    assert report["severity"] == assessment.verdict.severity
    assert report["performance"]["n"] == 300
    assert [f["feature"] for f in report["features"]] == ["x", "z"]
    assert list(assessment.features["feature"]) == ["x", "z"]
