"""The sequential test's guarantees, measured by simulation (numpy, seeded).

Each simulated sequence is a challenger's life: every day 1,000 to 6,000 labelled rows (uniform),
each row's 0/1 loss under both models, the test read after every day. Two ways the models' errors
can relate, because the rows a test needs depend on how often the models disagree:
- independent errors: the slowest realistic case (the models disagree on ~31% of rows);
- agreeing models: they disagree on 10% of rows, as two fits of one model class mostly do.
The figures these tests assert are the ones docs/challengers.md states.
"""

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

from mlops_assets.domain.challenger import ChallengerEvidence, SequentialTestSettings

SEQUENCES = 400
DAYS = 60
# The horizon off: these measure what the interval does, not when the test gives up.
UNBOUNDED = SequentialTestSettings(max_rows=10**9, max_days=10**6)


@dataclass(frozen=True)
class Sequences:
    promoted_at: list[int | None]  # labelled rows when first promoted
    retired: list[tuple[int, str] | None]  # (rows, reason) when first retired
    interval_missed: list[bool]  # the interval ever excluded the true effect
    naive_promoted: list[bool]  # a daily fixed-sample t-test ever found the challenger better

    def share(self, values: list[bool]) -> float:
        return sum(values) / len(values)


def _independent(champion: float, challenger: float) -> tuple[float, float]:
    """P(d = +1), P(d = -1) when the two models err independently."""
    return (1 - champion) * challenger, champion * (1 - challenger)


def _agreeing(champion: float, challenger: float, disagree: float) -> tuple[float, float]:
    """P(d = +1), P(d = -1) when the models disagree on `disagree` of the rows."""
    gap = challenger - champion
    return (disagree + gap) / 2, (disagree - gap) / 2


def _simulate(
    p_plus: float, p_minus: float, settings: SequentialTestSettings, seed: int, stop: bool
) -> Sequences:
    rng = np.random.default_rng(seed)
    true_effect = p_plus - p_minus
    promoted_at, retired, missed, naive = [], [], [], []
    for _ in range(SEQUENCES):
        evidence = ChallengerEvidence(settings)
        first_promote = first_retire = None
        ever_missed = naive_hit = False
        plus_total = minus_total = rows_total = 0
        for day in range(DAYS):
            rows = int(rng.integers(1000, 6001))
            plus, minus, _ = rng.multinomial(rows, [p_plus, p_minus, 1 - p_plus - p_minus])
            d = np.zeros(rows)
            d[:plus], d[plus : plus + minus] = 1.0, -1.0
            evidence = evidence.add_day(f"day-{day:03d}", d)
            verdict = evidence.verdict()
            ever_missed |= not verdict.low <= true_effect <= verdict.high
            if verdict.decision == "promote" and first_promote is None:
                first_promote = verdict.rows
            if verdict.decision == "retire" and first_retire is None:
                first_retire = (verdict.rows, verdict.reason)
            # The naive reading: a one-sided t-test at 5% on all rows so far, every day.
            plus_total, minus_total, rows_total = (
                plus_total + plus,
                minus_total + minus,
                rows_total + rows,
            )
            mean = (plus_total - minus_total) / rows_total
            variance = ((plus_total + minus_total) / rows_total - mean**2) * (
                rows_total / (rows_total - 1)
            )
            t = mean / np.sqrt(variance / rows_total) if variance > 0 else 0.0
            naive_hit |= bool(stats.t.sf(t, rows_total - 1) < 0.05)
            if stop and (first_promote is not None or first_retire is not None):
                break
        promoted_at.append(first_promote)
        retired.append(first_retire)
        missed.append(ever_missed)
        naive.append(naive_hit)
    return Sequences(promoted_at, retired, missed, naive)


@pytest.fixture(scope="module", params=["independent", "agreeing"])
def equal_challenger(request):
    p = _independent(0.80, 0.80) if request.param == "independent" else _agreeing(0.8, 0.8, 0.1)
    return _simulate(*p, UNBOUNDED, seed=31, stop=False)


def test_an_equal_challenger_is_promoted_in_at_most_5_percent_of_sequences(equal_challenger):
    promoted = [rows is not None for rows in equal_challenger.promoted_at]
    share = equal_challenger.share(promoted)
    assert share <= 0.05, f"{share:.1%} of {SEQUENCES} equal challengers promoted"
    # Measured: none of the 400 in either setting (the bound is alpha / 2 = 2.5%, and
    # conservative).
    assert share == 0.0


def test_the_interval_holds_the_true_effect_every_day_in_95_percent_of_sequences(
    equal_challenger,
):
    share = equal_challenger.share(equal_challenger.interval_missed)
    assert share <= 0.05, f"the interval missed 0 in {share:.1%} of sequences"


def test_a_naive_daily_t_test_promotes_an_equal_challenger_far_more_than_5_percent(
    equal_challenger,
):
    share = equal_challenger.share(equal_challenger.naive_promoted)
    # Measured: 28.3% (independent errors) and 26.8% (agreeing models) over 60 daily looks.
    assert share > 0.20, f"the naive test promoted {share:.1%}"


@pytest.mark.parametrize(
    ("errors", "median_rows", "p95_rows"),
    [("independent", 20_000, 34_000), ("agreeing", 9_000, 14_000)],
)
def test_a_challenger_two_points_better_is_promoted_within_the_stated_rows(
    errors, median_rows, p95_rows
):
    # Measured: median 18,780 and 95th percentile 32,325 rows (independent errors); 8,534 and
    # 13,772 (agreeing models); every one of the 400 promoted within the default horizon.
    p = _independent(0.80, 0.82) if errors == "independent" else _agreeing(0.80, 0.82, 0.1)
    sequences = _simulate(*p, SequentialTestSettings(), seed=32, stop=True)
    rows = [r for r in sequences.promoted_at if r is not None]
    assert len(rows) == SEQUENCES, f"{SEQUENCES - len(rows)} better challengers not promoted"
    median, p95 = np.percentile(rows, [50, 95])
    assert median <= median_rows, f"median {median:.0f} rows"
    assert p95 <= p95_rows, f"95th percentile {p95:.0f} rows"


def test_a_challenger_two_points_worse_is_retired_before_the_horizon_and_never_promoted():
    sequences = _simulate(*_independent(0.80, 0.78), SequentialTestSettings(), seed=33, stop=True)
    assert all(r is None for r in sequences.promoted_at)
    retired = [r for r in sequences.retired if r is not None]
    assert len(retired) == SEQUENCES
    # Some are shown unable to beat min_effect a day before they are shown worse.
    assert {reason for _, reason in retired} == {"proven_worse", "not_better_by_min_effect"}
    assert np.percentile([rows for rows, _ in retired], 95) <= 26_000


def test_an_equal_challenger_is_retired_at_the_horizon():
    sequences = _simulate(*_independent(0.80, 0.80), SequentialTestSettings(), seed=34, stop=True)
    retired = [r for r in sequences.retired if r is not None]
    assert len(retired) == SEQUENCES
    assert {reason for _, reason in retired} == {"undecided_at_horizon"}
    assert all(50_000 <= rows < 56_000 for rows, _ in retired)


def _truth_probabilities(rng: np.random.Generator, rows: int) -> np.ndarray:
    """The probability one model puts on the true class, per row: 90% of rows Beta(4, 1)
    (confident and mostly right), 10% confident misses, log-uniform on [1e-6, 1e-1], so 4% of
    all rows are at or below the 1e-4 floor and pay the full bound."""
    miss = rng.random(rows) < 0.1
    return np.where(miss, 10.0 ** rng.uniform(-6.0, -1.0, rows), rng.beta(4.0, 1.0, rows))


def test_the_log_loss_simulation_puts_real_mass_at_the_floor():
    p = _truth_probabilities(np.random.default_rng(0), 100_000)
    assert np.mean(p <= 1e-4) == pytest.approx(0.04, abs=0.003)


def test_an_equal_challenger_on_floored_log_loss_is_not_promoted():
    """Continuous losses with heavy tails: both models draw their probability on the truth from
    `_truth_probabilities`, independently (mean floored log loss 0.94, 4% of rows at the
    9.21 bound, so the paired differences often reach +-9.2); 200 sequences of 30 daily
    looks."""
    settings = SequentialTestSettings(loss="log_loss", max_rows=10**9, max_days=10**6)
    rng = np.random.default_rng(35)
    promoted = missed = 0
    for _ in range(200):
        evidence = ChallengerEvidence(settings)
        ever_promoted = ever_missed = False
        for day in range(30):
            rows = int(rng.integers(1000, 6001))
            champion = np.maximum(_truth_probabilities(rng, rows), 1e-4)
            challenger = np.maximum(_truth_probabilities(rng, rows), 1e-4)
            evidence = evidence.add_day(f"day-{day:03d}", np.log(challenger) - np.log(champion))
            verdict = evidence.verdict()
            ever_promoted |= verdict.decision == "promote"
            ever_missed |= not verdict.low <= 0 <= verdict.high
        promoted += ever_promoted
        missed += ever_missed
    # Measured: 0 promoted, the interval never excluded 0.
    assert promoted / 200 <= 0.05
    assert missed / 200 <= 0.05
    assert (promoted, missed) == (0, 0)


def test_a_challenger_one_point_better_is_mostly_retired_undecided_at_the_horizon():
    # The horizon's retirement has no error control: at 50,000 rows of two 80% models erring
    # independently the interval's radius is ~0.0105, so a 1-point gain rarely clears
    # min_effect in time. Measured: 92 of 400 promoted, the other 308 retired undecided (and
    # 1 of 400 at +0.5 points, 241 at +1.25, 359 at +1.5).
    sequences = _simulate(*_independent(0.80, 0.81), SequentialTestSettings(), seed=40, stop=True)
    promoted = sum(rows is not None for rows in sequences.promoted_at)
    retired = [r for r in sequences.retired if r is not None]
    assert promoted + len(retired) == SEQUENCES
    assert 0.15 < promoted / SEQUENCES < 0.35
    assert {reason for _, reason in retired} == {"undecided_at_horizon"}


def test_at_a_lower_accuracy_a_two_point_winner_needs_more_rows():
    # 0.58 -> 0.60, independent errors: the models disagree on 49% of rows (31% at 0.80), so
    # the test needs more rows and a few winners reach the horizon. Measured: 389 of 400
    # promoted (median 25,440 rows, 95th percentile 46,035), 11 retired undecided.
    sequences = _simulate(*_independent(0.58, 0.60), SequentialTestSettings(), seed=36, stop=True)
    rows = [r for r in sequences.promoted_at if r is not None]
    assert len(rows) >= 0.95 * SEQUENCES
    assert np.percentile(rows, 95) <= 48_000
    retired = [r for r in sequences.retired if r is not None]
    assert {reason for _, reason in retired} <= {"undecided_at_horizon"}
