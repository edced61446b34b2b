"""The challenger's sequential test on real models' predictions and on hand-made days: its
verdicts, its stored state and resuming from it, its errors."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlops_assets.domain.challenger import (
    LOG_LOSS_BOUND,
    ChallengerEvidence,
    ChallengerInputError,
    ChallengerVerdict,
    SequentialTestSettings,
    judge_day,
    paired_differences,
    probability_losses,
    stitching_boundary,
    zero_one_losses,
)


@pytest.fixture(scope="module")
def digits_models():
    """Two real models on scikit-learn's bundled digits: naive Bayes (about 0.8 accurate) and a
    logistic regression (about 0.96), scored on the same 899 held-out rows."""
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, random_state=0)
    weak = GaussianNB().fit(x_train, y_train)
    strong = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x_train, y_train)
    return weak, strong, x_test, pd.Series(y_test)


def _days(differences, per_day):
    return [differences[i : i + per_day] for i in range(0, len(differences), per_day)]


def _run(settings, days):
    evidence = ChallengerEvidence(settings)
    verdicts = []
    for i, day in enumerate(days):
        evidence, verdict = judge_day(evidence, f"2026-03-{i + 1:02d}", day)
        verdicts.append(verdict)
    return evidence, verdicts


def test_a_clearly_better_real_model_is_promoted_on_zero_one_loss(digits_models):
    weak, strong, x, y = digits_models
    d = paired_differences(
        zero_one_losses(y, pd.Series(weak.predict(x))),
        zero_one_losses(y, pd.Series(strong.predict(x))),
        "zero_one",
    )
    evidence, verdicts = _run(SequentialTestSettings(), _days(d, 300))
    accuracy_gap = (weak.predict(x) != y).mean() - (strong.predict(x) != y).mean()
    assert accuracy_gap > 0.1
    assert verdicts[-1].decision == "promote"
    assert verdicts[-1].reason == "proven_better"
    assert verdicts[-1].rows == len(y) == evidence.rows
    assert verdicts[-1].effect == pytest.approx(accuracy_gap)
    assert verdicts[-1].low > 0.002
    assert verdicts[-1].low < verdicts[-1].effect < verdicts[-1].high


def test_the_same_pair_reversed_is_retired_as_worse_on_log_loss(digits_models):
    weak, strong, x, y = digits_models
    classes = list(strong.classes_)
    weak_loss = probability_losses("log_loss", y, weak.predict_proba(x), classes)
    strong_loss = probability_losses("log_loss", y, strong.predict_proba(x), classes)
    # Naive Bayes is overconfident on digits: its misses hit the floor of the bound.
    assert weak_loss.max() == pytest.approx(LOG_LOSS_BOUND)
    d = paired_differences(strong_loss, weak_loss, "log_loss")
    _, verdicts = _run(SequentialTestSettings(loss="log_loss"), _days(d, 300))
    assert verdicts[-1].decision == "retire"
    assert verdicts[-1].reason == "proven_worse"
    assert verdicts[-1].high < 0


def test_brier_losses_equal_the_sum_of_squared_errors_against_one_hot_labels(digits_models):
    _, strong, x, y = digits_models
    proba = strong.predict_proba(x)
    one_hot = (y.to_numpy()[:, None] == strong.classes_[None, :]).astype(float)
    got = probability_losses("brier", y, proba, list(strong.classes_))
    np.testing.assert_allclose(got, ((proba - one_hot) ** 2).sum(axis=1), atol=1e-12)


def test_zero_one_losses_compare_classes_by_value():
    y = pd.Series([1, 2, 3, 1])
    assert zero_one_losses(y, pd.Series(["1", "2.0", 2.0, 1.0])).tolist() == [0, 0, 1, 0]


def test_an_undecided_challenger_keeps_collecting_then_retires_at_the_horizon():
    settings = SequentialTestSettings(max_rows=10_000, max_days=5)
    rng = np.random.default_rng(0)
    days = [rng.choice([-1.0, 0.0, 1.0], size=1000, p=[0.05, 0.9, 0.05]) for _ in range(10)]
    _, verdicts = _run(settings, days)
    assert [v.decision for v in verdicts[:4]] == ["keep_collecting"] * 4
    assert (verdicts[4].decision, verdicts[4].reason) == ("retire", "undecided_at_horizon")
    assert verdicts[4].days == 5


def test_a_challenger_proven_not_better_by_the_minimum_effect_is_retired():
    # Equal models that rarely disagree: the interval narrows around 0 below min_effect.
    settings = SequentialTestSettings(min_effect=0.02, max_rows=10**9, max_days=10**6)
    day = np.array([1.0] * 50 + [-1.0] * 50 + [0.0] * 4900)
    _, verdicts = _run(settings, [day] * 10)
    retired = [v for v in verdicts if v.decision == "retire"]
    assert retired
    assert retired[0].reason == "not_better_by_min_effect"
    assert retired[0].low < 0 < retired[0].high < 0.02


def test_the_stitching_boundary_matches_an_independent_computation():
    # Reference values from a separate implementation of Howard et al. (2021)'s Theorem 1
    # boundary with scipy.special.zeta(1.4), s = 1.4, eta = 2: c = B instead of 2B, c = 0 or
    # alpha not halved would each change them in the second decimal or before.
    assert stitching_boundary(500.0, 0.025, 100.0, 2.0) == pytest.approx(99.04507404199902)
    assert stitching_boundary(100.0, 0.025, 100.0, 2.0) == pytest.approx(45.24491718208661)
    assert stitching_boundary(5000.0, 0.025, 100.0, 2 * LOG_LOSS_BOUND) == pytest.approx(
        489.6114194981892
    )


def test_the_interval_of_a_fixed_sequence_is_pinned():
    # Same reference implementation: 200 rows (mean 0.1), then 200 more (mean -0.1).
    day_1 = np.array([1.0] * 30 + [-1.0] * 10 + [0.0] * 160)
    day_2 = np.array([1.0] * 5 + [-1.0] * 25 + [0.0] * 170)
    evidence = ChallengerEvidence().add_day("2026-03-01", day_1)
    assert evidence.interval() == pytest.approx((0.1, -0.12622458591043303, 0.326224585910433))
    evidence = evidence.add_day("2026-03-02", day_2)
    assert evidence.interval() == pytest.approx((0.0, -0.11311229295521652, 0.11311229295521652))
    verdict = evidence.verdict()
    assert (verdict.effect, verdict.low, verdict.high) == pytest.approx(
        (0.0, -0.11311229295521652, 0.11311229295521652)
    )


def test_the_verdict_keeps_the_running_intersection_so_a_decision_is_not_undone():
    # A strong first day, then a day of no effect: the second day's interval alone reaches
    # below the first day's low end (-0.030 against -0.026), and would move the canary down.
    day_1 = np.array([1.0] * 60 + [-1.0] * 20 + [0.0] * 120)
    day_2 = np.array([1.0] * 20 + [-1.0] * 20 + [0.0] * 160)
    first = ChallengerEvidence().add_day("2026-03-01", day_1)
    second = first.add_day("2026-03-02", day_2)
    _, first_low, first_high = first.interval()
    _, low, high = second.interval()
    assert low == pytest.approx(first_low)
    assert high < first_high
    rows = np.concatenate([day_1, day_2])
    alone = stitching_boundary(second.variance_process, 0.025, 100.0, 2.0) / rows.size
    assert rows.mean() - alone < first_low


def test_a_later_day_centres_its_squares_on_the_earlier_days_mean():
    first = np.array([1.0] * 30 + [0.0] * 70)
    second = np.array([1.0, -1.0, 0.0, 0.0])
    evidence = ChallengerEvidence().add_day("d1", first).add_day("d2", second)
    assert evidence.days[1].centre == pytest.approx(0.3)
    assert evidence.days[1].squares == pytest.approx(0.7**2 + 1.3**2 + 2 * 0.3**2)


def test_resuming_from_stored_evidence_gives_the_same_verdict_as_one_run():
    rng = np.random.default_rng(1)
    days = [rng.choice([-1.0, 0.0, 1.0], size=2000, p=[0.04, 0.9, 0.06]) for _ in range(4)]
    straight, verdicts = _run(SequentialTestSettings(), days)
    stored = ChallengerEvidence()
    for i, day in enumerate(days):
        stored, verdict = judge_day(
            ChallengerEvidence.from_json(stored.to_json()), f"2026-03-{i + 1:02d}", day
        )
        assert verdict == verdicts[i]
    assert stored == straight


def test_re_running_a_day_from_the_evidence_before_it_gives_the_same_result():
    rng = np.random.default_rng(2)
    days = [rng.choice([-1.0, 0.0, 1.0], size=1500, p=[0.05, 0.88, 0.07]) for _ in range(3)]
    evidence, verdicts = _run(SequentialTestSettings(), days)
    again, verdict = judge_day(evidence.before("2026-03-03"), "2026-03-03", days[2])
    assert verdict == verdicts[2]
    assert again.to_json() == evidence.to_json()


def test_a_day_already_counted_is_refused():
    evidence = ChallengerEvidence().add_day("2026-03-02", np.zeros(10))
    with pytest.raises(ChallengerInputError, match=r"2026-03-02.*evidence.before"):
        evidence.add_day("2026-03-02", np.zeros(10))
    with pytest.raises(ChallengerInputError, match="not after"):
        evidence.add_day("2026-03-01", np.zeros(10))


def test_the_verdict_round_trips_through_its_metadata():
    evidence = ChallengerEvidence().add_day("2026-03-01", np.array([1.0, 0.0, -1.0, 1.0]))
    verdict = evidence.verdict()
    metadata = verdict.to_metadata()
    assert metadata["challenger_decision"] == "keep_collecting"
    assert metadata["challenger_rows"] == 4
    assert metadata["challenger_effect"] == pytest.approx(0.25)
    assert all(isinstance(v, str | int | float) for v in metadata.values())
    assert ChallengerVerdict.from_metadata(metadata) == verdict


def test_a_day_without_labelled_rows_counts_towards_the_horizon_only():
    evidence = ChallengerEvidence(SequentialTestSettings(max_days=2))
    evidence, first = judge_day(evidence, "2026-03-01", np.array([]))
    assert (first.rows, first.effect, first.low, first.high) == (0, 0.0, -1.0, 1.0)
    _, second = judge_day(evidence, "2026-03-02", np.array([]))
    assert second.reason == "undecided_at_horizon"


@pytest.mark.parametrize(
    ("champion", "challenger", "message"),
    [
        (np.array([0.0, 1.0]), np.array([0.0]), "pair them row for row"),
        (np.array([0.0, 2.0]), np.array([0.0, 1.0]), r"champion's zero_one loss at row 1 is 2\.0"),
        (np.array([0.0, 1.0]), np.array([np.nan, 1.0]), "challenger's zero_one loss at row 0"),
    ],
)
def test_losses_outside_the_bound_are_refused_naming_the_row(champion, challenger, message):
    with pytest.raises(ChallengerInputError, match=message):
        paired_differences(champion, challenger, "zero_one")


def test_differences_outside_the_loss_bound_are_refused_by_the_evidence():
    with pytest.raises(ChallengerInputError, match=r"2026-03-01.*at row 1 is 1\.5, outside"):
        ChallengerEvidence().add_day("2026-03-01", np.array([0.5, 1.5]))
    with pytest.raises(ChallengerInputError, match=r"shape \(2, 1\); pass one per row"):
        ChallengerEvidence().add_day("2026-03-01", np.zeros((2, 1)))


def test_probability_inputs_are_checked_naming_the_row():
    y = pd.Series(["a", "b", "c"])
    good = np.array([[0.5, 0.5], [0.1, 0.9], [0.2, 0.8]])
    with pytest.raises(ChallengerInputError, match="label 'c' at row 2 is not one of"):
        probability_losses("log_loss", y, good, ["a", "b"])
    bad = np.array([[0.5, 0.5], [0.3, 0.3], [0.2, 0.8]])
    with pytest.raises(ChallengerInputError, match="proba row 1 is not a probability vector"):
        probability_losses("brier", pd.Series(["a", "b", "a"]), bad, ["a", "b"])
    with pytest.raises(ChallengerInputError, match="y_true is missing at row 1"):
        zero_one_losses(pd.Series(["a", None]), pd.Series(["a", "b"]))


def test_settings_that_void_the_guarantee_are_refused():
    with pytest.raises(ChallengerInputError, match="alpha"):
        SequentialTestSettings(alpha=0.0)
    with pytest.raises(ChallengerInputError, match="min_effect"):
        SequentialTestSettings(min_effect=1.0)
    with pytest.raises(ChallengerInputError, match="not a stored ChallengerEvidence"):
        ChallengerEvidence.from_json('{"days": []}')


def test_stored_evidence_with_a_day_twice_is_refused():
    evidence = ChallengerEvidence().add_day("2026-03-01", np.zeros(3))
    raw = json.loads(evidence.to_json())
    raw["days"] = raw["days"] * 2
    with pytest.raises(ChallengerInputError, match="out of order or twice"):
        ChallengerEvidence.from_json(json.dumps(raw))


def test_the_log_loss_floor_is_one_in_ten_thousand():
    losses = probability_losses("log_loss", pd.Series([0]), np.array([[0.0, 1.0]]), [0, 1])
    assert losses[0] == pytest.approx(-math.log(1e-4))


@pytest.mark.parametrize("kind", ["brier", "log_loss"])
def test_probabilities_off_by_less_than_the_tolerance_stay_within_the_losss_range(kind):
    # Rows sum to 1.0000005, within the 1e-6 tolerance: a Brier of 2.000001 or a log loss of
    # -5e-7 would be refused by paired_differences and fail the whole day.
    y = pd.Series(["a", "b"])
    proba = np.array([[0.0, 1.0000005], [0.0, 1.0000005]])
    losses = probability_losses(kind, y, proba, ["a", "b"])
    bound = 2.0 if kind == "brier" else LOG_LOSS_BOUND
    assert losses.tolist() == pytest.approx([bound, 0.0])
    assert losses.min() >= 0.0
    assert losses.max() <= bound
    d = paired_differences(losses, losses[::-1].copy(), kind)
    assert d.tolist() == pytest.approx([bound, -bound])


def test_an_empty_intersection_says_the_effect_changed_not_a_verdict():
    # A balanced first day, then a day where the challenger is wrong on every row: the second
    # day's interval lies wholly below the first's, so their intersection closes.
    settings = SequentialTestSettings(max_rows=10**9, max_days=10**6)
    first = np.array([1.0, -1.0, 0.0, 0.0] * 50)
    _, verdicts = _run(settings, [first, -np.ones(100_000)])
    assert verdicts[0].decision == "keep_collecting"
    changed = verdicts[1]
    assert changed.low > changed.high
    assert (changed.decision, changed.reason) == ("keep_collecting", "effect_changed")
    # At the horizon the closed intersection is retired as undecided, a cost decision.
    _, at_horizon = _run(SequentialTestSettings(max_days=2), [first, -np.ones(100_000)])
    assert (at_horizon[1].decision, at_horizon[1].reason) == ("retire", "undecided_at_horizon")
