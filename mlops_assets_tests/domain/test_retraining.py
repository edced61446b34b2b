from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from mlops_assets.domain.retraining import (
    DayVerdict,
    RetrainingAttempt,
    decide_retraining,
    last_retraining_summary,
    planned_retrainings,
)
from mlops_assets.domain.retraining_policy import RetrainingPolicy

NOW = datetime(2026, 1, 20, 12, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=1)
FIRST = date(2026, 1, 10)
POLICY = RetrainingPolicy(debounce_days=2, cooldown_days=3, window_days=3, max_attempts=3)


def _days(*severities: str, first: date = FIRST) -> list[DayVerdict]:
    return [
        DayVerdict(first + timedelta(days=i), severity, performance_dropped=False)
        for i, severity in enumerate(severities)
    ]


def _decide(verdicts, attempts=(), policy=POLICY, now=NOW):
    return decide_retraining(verdicts, attempts, policy=policy, now=now)


def _attempt(end: date, status="succeeded", start=None, run_id="r1", created=LONG_AGO):
    return RetrainingAttempt(run_id, status, created, start or end, end)


def _day(i: int) -> date:
    return FIRST + timedelta(days=i)


def test_clean_day_never_launches():
    decision = _decide(_days("critical", "none"))
    assert not decision.launch and "nothing to do" in decision.reason


def test_warning_is_not_enough():
    assert not _decide(_days("warning", "warning", "warning")).launch


def test_a_single_critical_day_waits_for_the_debounce():
    decision = _decide(_days("none", "critical"))
    assert not decision.launch and "debounce" in decision.reason


def test_consecutive_critical_days_launch_on_the_streak_window():
    decision = _decide(_days("none", "critical", "critical"))
    assert decision.launch and decision.attempt == 1
    assert (decision.window_start, decision.window_end) == (_day(1), _day(2))


def test_window_is_capped_to_the_most_recent_days():
    # Six critical days seen for the first time: the earliest due day (the second) launches
    # first, exactly as if the days had arrived one a day.
    first = _decide(_days(*["critical"] * 6))
    assert (first.window_start, first.window_end) == (_day(0), _day(1))
    assert "catching up" in first.reason
    later = _decide(_days(*["critical"] * 10), [_attempt(_day(5), start=_day(4))])
    assert (later.window_start, later.window_end) == (_day(7), _day(9))


def test_a_gap_in_days_breaks_the_streak():
    verdicts = [DayVerdict(_day(0), "critical", False), DayVerdict(_day(2), "critical", False)]
    assert not _decide(verdicts).launch


def test_performance_drop_alone_counts_as_alarming():
    verdicts = [DayVerdict(_day(i), "none", True) for i in range(2)]
    assert _decide(verdicts).launch


def test_cooldown_counts_data_days_after_the_last_window_not_hours():
    # The last retraining trained on days 0-1; three data days of cooldown follow (2, 3, 4).
    success = [_attempt(_day(1), start=_day(0))]
    cooling = _decide(_days(*["critical"] * 5), success)
    assert not cooling.launch and "cooldown" in cooling.reason and str(_day(5)) in cooling.reason
    # Day 5 is beyond the cooldown however little wall-clock time has passed.
    recent = [_attempt(_day(1), start=_day(0), created=NOW - timedelta(hours=1))]
    due = _decide(_days(*["critical"] * 6), recent)
    assert due.launch and due.window_end == _day(5)


def test_running_retraining_and_the_loop_guard_block_with_their_reason():
    verdicts = _days("critical", "critical")
    busy = _decide(verdicts, [RetrainingAttempt("r0", "running", NOW, None, None)])
    assert not busy.launch and "already queued or running" in busy.reason
    just_now = [RetrainingAttempt("r0", "failed", NOW - timedelta(minutes=1), None, None)]
    guarded = _decide(verdicts, just_now)
    assert not guarded.launch and "loop guard" in guarded.reason
    assert _decide(
        verdicts, just_now, policy=POLICY.model_copy(update={"min_interval_minutes": 0})
    ).launch


def test_a_backfill_starts_the_same_retrainings_as_days_arriving_one_a_day():
    verdicts = _days(*["critical"] * 10)
    policy = RetrainingPolicy(debounce_days=2, cooldown_days=3, window_days=7)

    # One a day: the sensor ticks after each day; each retraining succeeds before the next day.
    daily, attempts = [], []
    for i in range(len(verdicts)):
        decision = _decide(verdicts[: i + 1], attempts, policy, now=NOW + timedelta(days=i))
        if decision.launch:
            daily.append((decision.window_start, decision.window_end))
            attempts.append(_attempt(decision.window_end, start=decision.window_start))

    # Backfill: all ten reports first, then ticks (one retraining at a time, each succeeding).
    backfill, attempts = [], []
    for tick in range(10):
        decision = _decide(verdicts, attempts, policy, now=NOW + timedelta(hours=tick))
        if decision.launch:
            backfill.append((decision.window_start, decision.window_end))
            attempts.append(_attempt(decision.window_end, start=decision.window_start))

    # Days 1, 5 and 9 (0-based): the streak reaches the debounce, then every 4th data day.
    expected = [(_day(0), _day(1)), (_day(0), _day(5)), (_day(3), _day(9))]
    assert daily == backfill == expected
    planned = planned_retrainings(verdicts, policy)
    assert [(p.window_start, p.window_end) for p in planned] == expected


def test_a_failed_retraining_does_not_start_the_cooldown_and_is_retried():
    failed = [_attempt(_day(1), status="failed", run_id="bad1")]
    # The same day is not retried at once; the next alarming day is.
    same = _decide(_days("critical", "critical"), failed)
    assert not same.launch
    retry = _decide(_days("critical", "critical", "critical"), failed)
    assert retry.launch and retry.attempt == 2
    assert "last retraining run bad1 failed, attempt 2 of 3" in retry.reason
    assert retry.window_end == _day(2)


def test_attempts_per_drift_episode_are_bounded():
    failed = [
        _attempt(_day(i), status="failed", run_id=f"bad{i}", start=_day(0)) for i in (1, 2, 3)
    ]
    stuck = _decide(_days(*["critical"] * 5), failed)
    assert not stuck.launch
    assert "3 of 3 retraining attempts" in stuck.reason and "bad3" in stuck.reason
    # A clean day ends the episode: the next drift gets its own attempts.
    verdicts = _days("critical", "critical", "critical", "critical", "none", "critical", "critical")
    fresh = _decide(verdicts, failed)
    assert fresh.launch and fresh.attempt == 1 and fresh.window_start == _day(5)


def test_a_success_after_failures_resets_the_attempts():
    attempts = [
        _attempt(_day(1), status="failed", run_id="bad1"),
        _attempt(_day(2), status="succeeded", run_id="good"),
        _attempt(_day(6), status="failed", run_id="bad2"),
    ]
    decision = _decide(_days(*["critical"] * 8), attempts)
    assert decision.launch and decision.attempt == 2 and "bad2" in decision.reason


def test_days_already_in_a_tried_window_are_not_judged_again():
    attempts = [_attempt(_day(2), start=_day(1))]
    decision = _decide(_days("none", "critical", "critical"), attempts)
    assert not decision.launch and "already in the window" in decision.reason


def test_old_backlog_beyond_the_catch_up_span_is_left_alone():
    verdicts = _days("critical", "critical", *["none"] * 30)
    decision = _decide(verdicts)
    assert not decision.launch and "nothing to do" in decision.reason


def test_the_last_retraining_is_summarised_for_the_days_report():
    assert last_retraining_summary(None) == {}
    failed = RetrainingAttempt(
        "r1", "failed", datetime(2026, 1, 6), date(2026, 1, 3), date(2026, 1, 5)
    )
    assert last_retraining_summary(failed) == {
        "last_retraining": "run r1 failed (window 2026-01-03..2026-01-05)",
        "last_retraining_failed": True,
    }
    manual = RetrainingAttempt("r2", "succeeded", datetime(2026, 1, 6))
    assert last_retraining_summary(manual) == {
        "last_retraining": "run r2 succeeded (the configured training source)",
        "last_retraining_failed": False,
    }


def _estimated(*labelled: bool, first: date = FIRST) -> list[DayVerdict]:
    """Days whose trusted estimate dropped; `labelled` says whose labels have arrived (their
    realized verdict then replaces the estimate: here the labels confirm the drop)."""
    return [
        DayVerdict(
            first + timedelta(days=i),
            "none",
            performance_dropped=has_labels,
            estimated_dropped=True,
            labelled=has_labels,
        )
        for i, has_labels in enumerate(labelled)
    ]


def test_each_signal_alone_makes_a_day_alarming_and_is_named():
    day = _day(0)
    assert DayVerdict(day, "critical", False).signals == ("feature drift",)
    assert DayVerdict(day, "none", True).signals == ("realized",)
    assert DayVerdict(day, "none", False, estimated_dropped=True, labelled=False).signals == (
        "estimated",
    )
    assert not DayVerdict(day, "warning", False).alarming


def test_arrived_labels_overrule_the_estimate():
    # The estimate said "dropped" but the labels, now in, say the accuracy held.
    overruled = DayVerdict(_day(0), "none", False, estimated_dropped=True, labelled=True)
    assert not overruled.alarming
    verdicts = [replace(overruled, day=_day(i)) for i in range(3)]
    decision = _decide(verdicts)
    assert not decision.launch and "realized performance held" in decision.reason


def test_a_due_streak_of_estimated_drops_waits_for_labels_and_names_the_days():
    decision = _decide(_estimated(False, False))
    assert not decision.launch and decision.waiting_for_labels
    assert decision.signals == ("estimated",)
    assert f"estimated performance drop on {_day(0)}, {_day(1)} (no labels yet)" in (
        decision.reason
    )
    assert f"waiting for labels of {_day(0)}, {_day(1)}" in decision.reason
    # One labelled day of two is not enough: the debounce's two days must be labelled.
    one = _decide(_estimated(True, False, False))
    assert not one.launch and f"waiting for labels of {_day(1)}, {_day(2)}" in one.reason
    assert "1 so far" in one.reason


def test_the_launch_comes_on_the_tick_after_the_labels_land_with_labelled_days_only():
    # Days 0-4 alarmed on their estimates; the labels of days 0 and 1 have now landed.
    decision = _decide(_estimated(True, True, False, False, False))
    assert decision.launch and decision.attempt == 1
    assert (decision.window_start, decision.window_end) == (_day(0), _day(1))
    # The streak judged is days 0-1, labelled by now: the labels' verdict launched it.
    assert decision.signals == ("realized",)
    assert "realized performance drop on" in decision.reason
    assert f"window: labelled days {_day(0)}..{_day(1)}" in decision.reason


def test_the_window_skips_a_streak_day_still_without_labels():
    # Feature drift on every day; the labels of day 2 are late, days 0, 1 and 3 have theirs.
    verdicts = [DayVerdict(_day(i), "critical", False, labelled=i != 2) for i in range(4)]
    attempts = [_attempt(_day(1), start=_day(0), run_id="first")]
    policy = POLICY.model_copy(update={"cooldown_days": 0})
    decision = _decide(verdicts, attempts, policy=policy)
    # Day 2 has no labels, so no new labelled day to train on yet: it waits.
    waiting = _decide(verdicts[:3], attempts, policy=policy)
    assert not waiting.launch and f"waiting for labels of {_day(2)}" in waiting.reason
    # Day 3 brings one: the window is the streak's 3 latest labelled days (0, 1, 3); day 2's
    # rows, still without labels, are not in the labelled window.
    assert decision.launch and decision.signals == ("feature drift",)
    assert (decision.window_start, decision.window_end) == (_day(0), _day(3))
    assert "feature drift critical on" in decision.reason


def test_cooldown_and_debounce_hold_for_estimated_drops_and_say_so():
    single = _decide(_estimated(False))
    assert not single.launch and "debounce" in single.reason and "estimated" in single.reason
    success = [_attempt(_day(1), start=_day(0))]
    cooling = _decide(_estimated(True, True, False, False), success)
    assert not cooling.launch and "cooldown" in cooling.reason
    assert "estimated performance drop on" in cooling.reason


def test_planned_retrainings_match_the_labelled_windows():
    # Every day alarming on its estimate, and labelled by now except the last two.
    verdicts = _estimated(*[True] * 8, False, False)
    planned = planned_retrainings(verdicts, POLICY)
    # Day 9 is due after the cooldown but not labelled: its window ends on day 7.
    assert [(p.window_start, p.window_end) for p in planned] == [
        (_day(0), _day(1)),
        (_day(3), _day(5)),
        (_day(5), _day(7)),
    ]


def test_after_a_rollback_on_live_evidence_only_a_fresh_streak_retrains():
    # The retraining on days 0-1 was promoted, then rolled back on day 5 by the challenger test
    # (its model proven worse than the champion it replaced). Drift stays critical throughout.
    drifting = _days(*["critical"] * 8)
    promoted = _attempt(_day(1), start=_day(0))
    # Without the rollback, day 5 (past the cooldown) would retrain the same day...
    assert _decide(drifting[:6], [promoted]).launch
    rolled_back = replace(promoted, rolled_back_on=_day(5))
    # ...with it, the days the demoted model judged (up to day 5) start nothing, and the next
    # retraining needs debounce_days alarming days after the rollback.
    same_day = _decide(drifting[:6], [rolled_back])
    assert not same_day.launch and f"its model rolled back on {_day(5)}" in same_day.reason
    next_day = _decide(drifting[:7], [rolled_back])
    assert not next_day.launch and "debounce" in next_day.reason
    fresh = _decide(drifting, [rolled_back])
    assert fresh.launch and (fresh.window_start, fresh.window_end) == (_day(6), _day(7))


def test_a_day_made_critical_by_its_data_quality_alone_is_not_called_feature_drift():
    """The drift severity folds data-quality drift in (issue 29): a streak of days whose
    features held but whose missing shares rose is named for what made it critical."""
    quality = [
        DayVerdict(_day(i), "critical", False, drift_source="data-quality drift") for i in range(2)
    ]
    decision = _decide(quality)
    assert "data-quality drift critical on" in decision.reason, decision.reason
    assert "feature drift critical" not in decision.reason
    both = [DayVerdict(_day(0), "critical", False), *quality[1:]]
    reason = _decide(both).reason
    assert f"feature drift critical on {_day(0)}" in reason, reason
    assert f"data-quality drift critical on {_day(1)}" in reason, reason


def test_a_warning_day_made_so_by_its_data_quality_says_so_when_held():
    held = _decide(
        [DayVerdict(_day(0), "warning", False, drift_source="data-quality drift")]
    ).reason
    assert held.startswith(f"{_day(0)}: data-quality drift warning, "), held
    assert "feature drift" not in held
