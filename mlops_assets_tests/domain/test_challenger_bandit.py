"""Thompson sampling between champion and challenger with labels that land later."""

import threading

import numpy as np
import pytest

from mlops_assets.domain.challenger import ChallengerInputError, ThompsonSampler


def _serve(sampler, accuracy, requests, delay, rng, start=0):
    """Answer `requests` requests; each label lands `delay` requests after its answer (the
    rest stay pending). Returns the arms in request order."""
    arms, waiting = [], []
    for i in range(start, start + requests):
        request_id = f"r{i}"
        arm = sampler.choose(request_id)
        arms.append(arm)
        waiting.append((request_id, float(rng.random() < accuracy[arm])))
        if len(waiting) >= delay:
            sampler.reward(dict(waiting))
            waiting.clear()
    return arms


def test_the_sampler_moves_traffic_to_a_better_challenger_from_delayed_labels():
    sampler = ThompsonSampler(min_share=0.05, seed=3)
    arms = _serve(
        sampler, {"champion": 0.80, "challenger": 0.85}, 20_000, 500, np.random.default_rng(0)
    )
    late = arms[-5000:]
    assert late.count("challenger") / len(late) > 0.85
    assert sampler.posterior_mean("challenger") == pytest.approx(0.85, abs=0.02)
    assert sampler.challenger_win_probability() > 0.99


def test_a_worse_challenger_keeps_its_minimum_share_and_no_more():
    sampler = ThompsonSampler(min_share=0.05, seed=4)
    arms = _serve(
        sampler, {"champion": 0.85, "challenger": 0.75}, 20_000, 500, np.random.default_rng(1)
    )
    late = arms[-10_000:]
    share = late.count("challenger") / len(late)
    assert 0.04 < share < 0.07
    # The minimum share keeps measuring the loser: its posterior stays near the truth.
    assert sampler.posterior_mean("challenger") == pytest.approx(0.75, abs=0.03)


def test_the_same_seed_and_requests_choose_the_same_arms():
    runs = []
    for _ in range(2):
        sampler = ThompsonSampler(seed=7)
        runs.append(
            _serve(
                sampler, {"champion": 0.8, "challenger": 0.8}, 3000, 100, np.random.default_rng(2)
            )
        )
    assert runs[0] == runs[1]
    assert 0 < runs[0].count("challenger") < 3000


def test_a_restored_sampler_continues_as_the_original_would_have():
    accuracy = {"champion": 0.8, "challenger": 0.82}
    original = ThompsonSampler(seed=11)
    _serve(original, accuracy, 2000, 300, np.random.default_rng(5))
    restored = ThompsonSampler.from_json(original.to_json())
    assert restored.pending == original.pending
    after_original = _serve(original, accuracy, 2000, 300, np.random.default_rng(6), start=2000)
    after_restored = _serve(restored, accuracy, 2000, 300, np.random.default_rng(6), start=2000)
    assert after_restored == after_original
    assert restored.to_json() == original.to_json()


def test_a_label_counts_once_and_unknown_requests_are_counted_not_applied():
    sampler = ThompsonSampler(seed=0)
    arm = sampler.choose("a")
    assert sampler.choose("a") == arm  # a retried request is the same trial
    first = sampler.reward({"a": 1.0, "never-served": 0.0})
    again = sampler.reward({"a": 1.0})
    assert (getattr(first, arm), first.unmatched) == (1, 1)
    assert (again.champion, again.challenger, again.unmatched) == (0, 0, 1)
    assert sampler.posterior_mean(arm) == pytest.approx(2 / 3)
    assert sampler.to_metadata()["bandit_unmatched_labels"] == 2
    assert sampler.to_metadata()[f"bandit_{arm}_rewards"] == 1


def test_a_reward_outside_zero_one_is_refused_naming_the_request_and_nothing_is_applied():
    sampler = ThompsonSampler(seed=0)
    sampler.choose("a")
    sampler.choose("b")
    with pytest.raises(ChallengerInputError, match="request 'b' is 2"):
        sampler.reward({"a": 1.0, "b": 2})
    assert set(sampler.pending) == {"a", "b"}


def test_the_oldest_pending_requests_are_forgotten_beyond_the_limit():
    sampler = ThompsonSampler(seed=0, max_pending=3)
    for request_id in "abcde":
        sampler.choose(request_id)
    assert list(sampler.pending) == ["c", "d", "e"]
    assert sampler.reward({"a": 1.0}).unmatched == 1
    assert sampler.to_metadata()["bandit_forgotten_requests"] == 2


def test_the_win_probability_matches_draws_from_the_posteriors():
    sampler = ThompsonSampler(seed=0)
    sampler.successes.update(champion=40.0, challenger=45.0)
    sampler.failures.update(champion=12.0, challenger=10.0)
    rng = np.random.default_rng(0)
    draws = rng.beta(45, 10, 200_000) > rng.beta(40, 12, 200_000)
    assert sampler.challenger_win_probability() == pytest.approx(draws.mean(), abs=0.005)
    assert ThompsonSampler().challenger_win_probability() == pytest.approx(0.5, abs=1e-6)


def test_settings_out_of_range_are_refused():
    with pytest.raises(ChallengerInputError, match="min_share"):
        ThompsonSampler(min_share=0.6)
    with pytest.raises(ChallengerInputError, match="not a stored ThompsonSampler"):
        ThompsonSampler.from_json("{}")


def test_after_the_arms_swap_the_better_one_wins_traffic_back_within_a_week():
    # 30 days at 1,000 requests a day with the champion better (0.85 against 0.75), then the
    # two swap. Without forgetting, the new better arm needed about as many requests as the
    # whole history (30 days) to win half the traffic back; discounted by 0.9 a day, 4 to 5.
    sampler = ThompsonSampler(seed=21)
    rng = np.random.default_rng(21)
    before = {"champion": 0.85, "challenger": 0.75}
    after = {"champion": 0.75, "challenger": 0.85}
    shares = []
    for day in range(40):
        arms = _serve(sampler, before if day < 30 else after, 1000, 250, rng, start=day * 1000)
        sampler.decay(1)
        shares.append(arms.count("challenger") / len(arms))
    assert max(shares[20:30]) < 0.1
    recovered = next(day for day in range(30, 40) if shares[day] > 0.5)
    assert recovered - 30 <= 7, [round(share, 2) for share in shares[30:]]
    assert min(shares[38:]) > 0.85


def test_decay_shrinks_the_evidence_towards_the_prior():
    sampler = ThompsonSampler(seed=0, discount=0.5)
    sampler.successes.update(champion=9.0)
    sampler.failures.update(champion=5.0)
    sampler.decay(2)
    assert (sampler.successes["champion"], sampler.failures["champion"]) == (3.0, 2.0)
    assert (sampler.successes["challenger"], sampler.failures["challenger"]) == (1.0, 1.0)
    restored = ThompsonSampler.from_json(sampler.to_json())
    assert restored.discount == 0.5
    with pytest.raises(ChallengerInputError, match="days must be at least 0"):
        sampler.decay(-1)
    with pytest.raises(ChallengerInputError, match="discount"):
        ThompsonSampler(discount=0.0)


def test_rewards_may_be_numpy_numbers_and_bools():
    sampler = ThompsonSampler(seed=0)
    ids = ["a", "b", "c", "d"]
    arms = [sampler.choose(request_id) for request_id in ids]
    values = [np.int64(1), np.float32(1.0), np.True_, True]
    summary = sampler.reward(dict(zip(ids, values, strict=True)))
    assert summary.champion + summary.challenger == 4
    for arm in set(arms):
        assert sampler.successes[arm] == 1.0 + arms.count(arm)
        assert sampler.failures[arm] == 1.0
    sampler.choose("e")
    with pytest.raises(ChallengerInputError, match="request 'e' is 'yes'"):
        sampler.reward({"e": "yes"})
    with pytest.raises(ChallengerInputError, match="request 'e' is nan"):
        sampler.reward({"e": float("nan")})


@pytest.mark.parametrize("rewards", [3e7, 1e8])
def test_the_win_probability_holds_at_a_hundred_million_rewards(rewards):
    sampler = ThompsonSampler(seed=0)
    sampler.successes.update(champion=0.8 * rewards, challenger=0.8 * rewards)
    sampler.failures.update(champion=0.2 * rewards, challenger=0.2 * rewards)
    assert sampler.challenger_win_probability() == pytest.approx(0.5, abs=1e-3)
    # One posterior standard deviation (4e-5 at 1e8) apart: P = Phi(1 / sqrt(2)) = 0.760.
    sd = (0.8 * 0.2 / rewards) ** 0.5
    sampler.successes["challenger"] += sd * rewards
    sampler.failures["challenger"] -= sd * rewards
    assert sampler.challenger_win_probability() == pytest.approx(0.760, abs=0.005)
    sampler.successes["champion"] += 0.01 * rewards
    sampler.failures["champion"] -= 0.01 * rewards
    assert sampler.challenger_win_probability() == pytest.approx(0.0, abs=1e-9)


def test_concurrent_choices_and_rewards_lose_no_request():
    sampler = ThompsonSampler(seed=0)

    def serve(worker):
        for i in range(2000):
            request_id = f"{worker}-{i}"
            sampler.choose(request_id)
            sampler.reward({request_id: 1.0})
            sampler.to_json()

    threads = [threading.Thread(target=serve, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(sampler.rewarded.values()) == 8000
    assert sampler.successes["champion"] + sampler.successes["challenger"] == 2 + 8000
    assert not sampler.pending
