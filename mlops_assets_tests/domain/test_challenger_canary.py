"""The canary's share, raised step by step as the sequential test rules out harm."""

import dataclasses

import numpy as np
import pytest

from mlops_assets.domain.challenger import (
    CanarySchedule,
    ChallengerEvidence,
    ChallengerInputError,
    ChallengerVerdict,
    judge_day,
    next_canary_share,
)

COLLECTING = ChallengerVerdict(
    day="2026-03-01",
    decision="keep_collecting",
    reason="collecting",
    rows=5000,
    days=1,
    day_rows=5000,
    effect=0.01,
    low=0.0,
    high=0.02,
    loss="zero_one",
    alpha=0.05,
    min_effect=0.002,
)


def _with_low(low):
    return dataclasses.replace(COLLECTING, low=low)


def test_the_share_rises_one_step_a_day_while_the_evidence_rules_out_harm():
    shares = [0.0]
    for _ in range(5):
        shares.append(next_canary_share(shares[-1], _with_low(-0.001)))
    assert shares == [0.0, 0.05, 0.10, 0.25, 0.50, 0.50]


def test_the_share_stops_at_the_step_the_evidence_supports():
    assert next_canary_share(0.05, _with_low(-0.03)) == 0.05
    assert next_canary_share(0.05, _with_low(-0.015)) == 0.10
    assert next_canary_share(0.10, _with_low(-0.015)) == 0.10
    assert next_canary_share(0.25, _with_low(-0.007)) == 0.25


def test_the_share_falls_at_once_when_the_evidence_weakens():
    assert next_canary_share(0.50, _with_low(-0.015)) == 0.10
    assert next_canary_share(0.50, _with_low(-0.5)) == 0.05


def test_retiring_ends_the_canary_and_promoting_hands_over_all_traffic():
    retired = dataclasses.replace(COLLECTING, decision="retire", reason="proven_worse")
    promoted = dataclasses.replace(COLLECTING, decision="promote", reason="proven_better")
    assert next_canary_share(0.25, retired) == 0.0
    assert next_canary_share(0.25, promoted) == 1.0


def test_a_better_challenger_climbs_the_steps_before_it_is_promoted():
    rng = np.random.default_rng(0)
    evidence, share, shares = ChallengerEvidence(), 0.0, []
    for day in range(1, 30):
        # Challenger 2 points better, errors independent of the champion's: 1000 rows a day.
        d = rng.choice([1.0, -1.0, 0.0], size=1000, p=[0.164, 0.144, 0.692])
        evidence, verdict = judge_day(evidence, f"2026-03-{day:02d}", d)
        share = next_canary_share(share, verdict)
        shares.append(share)
        if verdict.decision == "promote":
            break
    steps = [share for i, share in enumerate(shares) if i == 0 or share != shares[i - 1]]
    assert steps == [0.05, 0.10, 0.25, 0.50, 1.0]
    assert len(shares) > len(steps)  # some days the evidence did not yet allow the next step


def test_a_share_that_is_not_a_step_or_a_bad_schedule_is_refused():
    with pytest.raises(ChallengerInputError, match=r"0\.2 is not 0, 1 or a step"):
        next_canary_share(0.2, COLLECTING)
    with pytest.raises(ChallengerInputError, match="one harm bound per share"):
        CanarySchedule(shares=(0.1, 0.2), harm=(1.0,))
    with pytest.raises(ChallengerInputError, match="increase strictly"):
        CanarySchedule(shares=(0.2, 0.1), harm=(1.0, 0.1))


def test_a_verdict_on_another_loss_than_the_schedules_is_refused():
    log_loss = dataclasses.replace(COLLECTING, loss="log_loss")
    with pytest.raises(ChallengerInputError, match="on log_loss loss and the canary's harm"):
        next_canary_share(0.05, log_loss)
    schedule = CanarySchedule(harm=(float("inf"), 0.05, 0.02, 0.01), loss="log_loss")
    assert next_canary_share(0.05, dataclasses.replace(log_loss, low=-0.03), schedule) == 0.10


def test_a_promoted_challenger_keeps_all_traffic():
    assert next_canary_share(1.0, COLLECTING) == 1.0
    promoted = dataclasses.replace(COLLECTING, decision="promote", reason="proven_better")
    assert next_canary_share(1.0, promoted) == 1.0


def test_the_stored_share_steps_once_per_verdict_day_and_restarts_for_a_new_tenure():
    from mlops_assets.domain.challenger.canary import CanaryShare, canary_step

    since = "2026-03-01T00:00:00+00:00"
    day1 = _with_low(-0.001)
    first = canary_step(None, day1, "1", since)
    assert first == CanaryShare(0.05, "1", since, "2026-03-01")
    assert CanaryShare.from_json(first.to_json()) == first
    # The sensor ticks again on the same day's verdict: no second step.
    assert canary_step(first, day1, "1", since) is None
    shares = [first]
    for day in ("2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"):
        step = canary_step(shares[-1], dataclasses.replace(day1, day=day), "1", since)
        if step is not None:
            shares.append(step)
    # One step a day, and never above the last step (50%) while undecided.
    assert [s.share for s in shares] == [0.05, 0.10, 0.25, 0.50]
    # The same pair in a new tenure (after a rollback, say), or beside another champion,
    # starts again at the first step.
    later = "2026-04-01T00:00:00+00:00"
    assert canary_step(shares[-1], dataclasses.replace(day1, day="2026-04-02"), "1", later) == (
        CanaryShare(0.05, "1", later, "2026-04-02")
    )
    assert canary_step(shares[-1], day1, "3", since).share == 0.05
    # Evidence of harm lowers it at once; promote and retire are alias moves, not shares.
    harm = dataclasses.replace(day1, day="2026-03-06", low=-0.015)
    assert canary_step(shares[-1], harm, "1", since).share == 0.10
    promoted = dataclasses.replace(day1, decision="promote", reason="proven_better")
    assert canary_step(shares[-1], promoted, "1", since) is None
    assert CanaryShare.from_json("0.3") is None
    assert CanaryShare.from_json("{not json") is None


def test_a_share_applies_beside_its_champion_in_its_tenure_only():
    from mlops_assets.domain.challenger.canary import CanaryShare

    share = CanaryShare(0.25, "1", "2026-03-01T00:00:00+00:00", "2026-03-04")
    assert share.applies("1", "2026-02-20T00:00:00+00:00")
    assert share.applies("1", "2026-03-01T00:00:00+00:00")
    # Another champion, or the challenger set again since (a new tenure): stale.
    assert not share.applies("3", "2026-02-20T00:00:00+00:00")
    assert not share.applies("1", "2026-03-05T00:00:00+00:00")
