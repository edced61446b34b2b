"""When drift should start a retraining: debounce, cooldown and the training window.

Pure rules over plain data, so the sensor stays thin and every skip reason is unit-tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class DayVerdict:
    """The latest drift_report of one daily partition."""

    day: date
    severity: str  # none, warning, critical
    performance_dropped: bool

    @property
    def alarming(self) -> bool:
        return self.severity == "critical" or self.performance_dropped


@dataclass(frozen=True)
class RetrainingPolicy:
    debounce_days: int = 2
    """Consecutive alarming days needed: one bad day is noise, two in a row is a trend."""
    cooldown: timedelta = timedelta(hours=6)
    """Minimum time since the last retraining started."""
    window_days: int = 7
    """At most this many most recent labelled days are trained on."""


@dataclass(frozen=True)
class RetrainingDecision:
    launch: bool
    reason: str
    window_start: date | None = None
    window_end: date | None = None


def decide_retraining(
    latest: Sequence[DayVerdict],
    *,
    policy: RetrainingPolicy,
    now: datetime,
    last_retraining_started: datetime | None,
    retraining_in_progress: bool,
) -> RetrainingDecision:
    """Whether the newest report should start a retraining, and on which days.

    `latest` holds the newest reports, one per day, most recent day last. The window is the
    current streak of alarming days (data from after the change), capped at `window_days`.
    """
    if not latest:
        return RetrainingDecision(False, "no drift report yet")
    newest = latest[-1]
    if not newest.alarming:
        return RetrainingDecision(
            False, f"{newest.day}: severity {newest.severity}, performance held; nothing to do"
        )
    streak = _alarming_streak(latest)
    if len(streak) < policy.debounce_days:
        return RetrainingDecision(
            False,
            f"{newest.day}: {len(streak)} consecutive alarming day(s), waiting for "
            f"{policy.debounce_days} (debounce)",
        )
    if retraining_in_progress:
        return RetrainingDecision(False, "a retraining run is already queued or running")
    if last_retraining_started is not None and now - last_retraining_started < policy.cooldown:
        remaining = policy.cooldown - (now - last_retraining_started)
        return RetrainingDecision(
            False,
            f"cooldown: last retraining started {last_retraining_started:%Y-%m-%d %H:%M} UTC, "
            f"{remaining} left",
        )
    window = streak[-policy.window_days :]
    return RetrainingDecision(
        True,
        f"{len(streak)} consecutive alarming days up to {newest.day} "
        f"(severity {newest.severity}, performance dropped: {newest.performance_dropped})",
        window_start=window[0].day,
        window_end=window[-1].day,
    )


def _alarming_streak(latest: Sequence[DayVerdict]) -> list[DayVerdict]:
    """The run of consecutive calendar days, ending at the newest, that are all alarming."""
    streak = [latest[-1]]
    for verdict in reversed(latest[:-1]):
        if not verdict.alarming or verdict.day != streak[0].day - timedelta(days=1):
            break
        streak.insert(0, verdict)
    return streak
