from datetime import UTC, date, datetime, timedelta

from mlops_assets.domain.retraining import DayVerdict, RetrainingPolicy, decide_retraining

NOW = datetime(2026, 1, 20, 12, tzinfo=UTC)
POLICY = RetrainingPolicy(debounce_days=2, cooldown=timedelta(hours=6), window_days=3)


def _days(*severities: str, first: date = date(2026, 1, 10)) -> list[DayVerdict]:
    return [
        DayVerdict(first + timedelta(days=i), severity, performance_dropped=False)
        for i, severity in enumerate(severities)
    ]


def _decide(verdicts, **kwargs):
    defaults = dict(
        policy=POLICY, now=NOW, last_retraining_started=None, retraining_in_progress=False
    )
    return decide_retraining(verdicts, **{**defaults, **kwargs})


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
    assert decision.launch
    assert (decision.window_start, decision.window_end) == (date(2026, 1, 11), date(2026, 1, 12))


def test_window_is_capped_to_the_most_recent_days():
    decision = _decide(_days(*["critical"] * 6))
    assert (decision.window_start, decision.window_end) == (date(2026, 1, 13), date(2026, 1, 15))


def test_a_gap_in_days_breaks_the_streak():
    verdicts = [
        DayVerdict(date(2026, 1, 10), "critical", False),
        DayVerdict(date(2026, 1, 12), "critical", False),
    ]
    assert not _decide(verdicts).launch


def test_performance_drop_alone_counts_as_alarming():
    verdicts = [DayVerdict(date(2026, 1, 10 + i), "none", True) for i in range(2)]
    assert _decide(verdicts).launch


def test_cooldown_and_running_retraining_block_with_their_reason():
    verdicts = _days("critical", "critical")
    cooling = _decide(verdicts, last_retraining_started=NOW - timedelta(hours=1))
    assert not cooling.launch and "cooldown" in cooling.reason
    assert _decide(verdicts, last_retraining_started=NOW - timedelta(hours=7)).launch
    busy = _decide(verdicts, retraining_in_progress=True)
    assert not busy.launch and "already queued or running" in busy.reason
