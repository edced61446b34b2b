"""When drift should start a retraining: debounce, cooldown in data time, bounded retries.

Three signals make a day alarming: critical feature drift (drift_report), a realized
performance drop (the labels' verdict: realized_performance, or drift_report's when labels come
with the features) and, until the day's labels arrive, a trusted estimated drop
(estimated_performance). Labels are the truth: once a day's have arrived its estimate no longer
counts. A retraining trains only on labelled days, so a due streak whose days are not yet
labelled waits for their labels, and launches on the tick after they land.

Pure rules over plain data (the days' verdicts and the past retraining runs), so the sensor
stays thin and every skip reason is unit-tested. Decisions depend on the data, not on when it
arrived: the cooldown counts data days after the last successful retraining's window, and the
candidates are taken in day order, so days scored one a day and the same days scored in one
backfill start the same retrainings. Wall-clock time only guards against a launch loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal

from mlops_assets.contracts import SIGNAL_ESTIMATED, SIGNAL_FEATURE_DRIFT, SIGNAL_REALIZED
from mlops_assets.domain.retraining_policy import RetrainingPolicy
from mlops_assets.domain.verdicts import Severity

AttemptStatus = Literal["running", "succeeded", "failed"]


@dataclass(frozen=True)
class DayVerdict:
    """One daily partition as the latest drift_report, realized_performance and
    estimated_performance of that day describe it."""

    day: date
    severity: Severity  # feature drift
    performance_dropped: bool  # realized: the labelled metric dropped beyond noise
    estimated_dropped: bool = False
    """The trusted estimate dropped beyond noise (an untrusted estimate is never a drop)."""
    labelled: bool = True
    """The day's labels have arrived (with the features, or as their own delivery)."""
    drift_source: str = "feature drift"
    """What made `severity` (`DriftVerdict.drift_source`): the reasons name it, so a day made
    critical by its data quality alone is not called feature drift."""

    def __post_init__(self) -> None:
        # Held as the enum however it was given (a plain string reads the same); a typo fails here.
        object.__setattr__(self, "severity", Severity.read(self.severity, str(self.day)))

    @property
    def signals(self) -> tuple[str, ...]:
        """The signals that make the day alarming, strongest evidence first."""
        found = []
        if self.performance_dropped:
            found.append(SIGNAL_REALIZED)
        if self.estimated_dropped and not self.labelled:
            found.append(SIGNAL_ESTIMATED)
        if self.severity == Severity.CRITICAL:
            found.append(SIGNAL_FEATURE_DRIFT)
        return tuple(found)

    @property
    def alarming(self) -> bool:
        return bool(self.signals)


@dataclass(frozen=True)
class RetrainingAttempt:
    """A past retraining_job run: its window of days and how it ended (a cancelled run counts
    as failed). `window_end` is None for a run that trained on the configured source only."""

    run_id: str
    status: AttemptStatus
    created: datetime
    window_start: date | None = None
    window_end: date | None = None
    rolled_back_on: date | None = None
    """The data day on which live evidence rolled back the version this run promoted (the
    former champion, shadowed, proven better). Its days up to then count as tried: they were
    scored and judged by the demoted version, not by the champion restored, so they start no
    retraining; the next waits for an alarming streak after that day."""


@dataclass(frozen=True)
class RetrainingDecision:
    launch: bool
    reason: str
    window_start: date | None = None
    window_end: date | None = None
    attempt: int = 0
    """1 for the first try of a drift episode, 2 after one failure, ..."""
    signals: tuple[str, ...] = ()
    """The signals of the streak the decision judged (realized, estimated, feature drift)."""
    waiting_for_labels: bool = False


def decide_retraining(
    verdicts: Sequence[DayVerdict],
    attempts: Sequence[RetrainingAttempt] = (),
    *,
    policy: RetrainingPolicy,
    now: datetime,
) -> RetrainingDecision:
    """The next retraining the data calls for, or why there is none.

    `verdicts` are the newest reports, one per day (any order). The candidates are the days
    after the last attempted window's end, oldest first; the first that is alarming, ends a
    streak of `debounce_days`, lies beyond the cooldown of the last success and has attempts
    left in its episode launches, with the streak (capped at `window_days`) as its window.
    Nothing launches while a retraining is queued or running, nor within `min_interval` of
    the last launch.
    """
    if not verdicts:
        return RetrainingDecision(False, "no drift report yet")
    running = next((a for a in attempts if a.status == "running"), None)
    if running is not None:
        return RetrainingDecision(
            False, f"a retraining run is already queued or running ({running.run_id})"
        )
    by_day = {v.day: v for v in verdicts}
    newest = max(by_day)
    ended = [a for a in attempts if a.window_end is not None]
    last_success = max((a for a in ended if a.status == "succeeded"), key=_end, default=None)
    last_tried = max(ended, key=_tried_until, default=None)
    first_candidate = newest - timedelta(days=policy.catch_up_days)
    if last_tried is not None:
        first_candidate = max(first_candidate, _tried_until(last_tried) + timedelta(days=1))

    waiting: RetrainingDecision | None = None
    day = first_candidate
    while day <= newest:
        verdict = by_day.get(day)
        if verdict is not None:
            judged = _judge_day(verdict, by_day, ended, last_success, policy, last_tried)
            if judged.launch:
                return _guarded(judged, verdict, newest, attempts, policy, now)
            if judged.waiting_for_labels and waiting is None:
                waiting = judged
        day += timedelta(days=1)
    if newest < first_candidate:  # the newest day is inside a window already tried
        assert last_tried is not None
        return RetrainingDecision(
            False,
            f"{newest}: already in the window of retraining run {last_tried.run_id} (up to "
            f"{_end(last_tried)}, {last_tried.status}"
            + (
                f"; its model rolled back on {last_tried.rolled_back_on}, the days it scored "
                "until then count as tried"
                if last_tried.rolled_back_on
                else ""
            )
            + "); nothing to do",
        )
    # Nothing to launch: the newest day's own reason is what people look for on the tick,
    # unless an earlier due streak waits for labels (the newest day's streak then waits too,
    # or it is not alarming and the wait is the news).
    newest_judged = _judge_day(by_day[newest], by_day, ended, last_success, policy, last_tried)
    if waiting is not None and not newest_judged.waiting_for_labels:
        return waiting
    return newest_judged


def _judge_day(
    verdict: DayVerdict,
    by_day: dict[date, DayVerdict],
    ended: Sequence[RetrainingAttempt],
    last_success: RetrainingAttempt | None,
    policy: RetrainingPolicy,
    last_tried: RetrainingAttempt | None = None,
) -> RetrainingDecision:
    """Whether `verdict.day` alone, with the data up to it, triggers a retraining."""
    if not verdict.alarming:
        return RetrainingDecision(False, _held(verdict))
    streak = [by_day[d] for d in _alarming_streak(verdict.day, by_day)]
    if last_tried is not None and last_tried.rolled_back_on is not None:
        # Days up to a rollback were judged against the demoted version: no evidence about
        # the champion restored, so its streak starts after them.
        streak = [v for v in streak if v.day > last_tried.rolled_back_on]
    signals = _streak_signals(streak)
    evidence = _evidence(streak)
    if len(streak) < policy.debounce_days:
        return RetrainingDecision(
            False,
            f"{verdict.day}: {len(streak)} consecutive alarming day(s) ({evidence}), waiting "
            f"for {policy.debounce_days} (debounce)",
            signals=signals,
        )
    if last_success is not None:
        free_from = _end(last_success) + timedelta(days=policy.cooldown_days + 1)
        if verdict.day < free_from:
            return RetrainingDecision(
                False,
                f"{verdict.day}: {evidence}; cooldown: the last retraining (run "
                f"{last_success.run_id}) trained on days up to {_end(last_success)}; the next "
                f"may start from {free_from} (cooldown_days {policy.cooldown_days})",
                signals=signals,
            )
    # The drift episode: the streak's days after the last success.
    episode_start = streak[0].day
    if last_success is not None:
        episode_start = max(episode_start, _end(last_success) + timedelta(days=1))
    failed = sorted(
        (a for a in ended if a.status == "failed" and episode_start <= _end(a) <= verdict.day),
        key=_end,
    )
    if len(failed) >= policy.max_attempts:
        return RetrainingDecision(
            False,
            f"{verdict.day}: {evidence}; {len(failed)} of {policy.max_attempts} retraining "
            f"attempts for the drift episode from {episode_start} failed (last: run "
            f"{failed[-1].run_id}); fix the cause and launch retraining_job by hand, or raise "
            "max_attempts",
            signals=signals,
        )
    # Only labelled days are trained on, and a window must end on a day no retraining tried
    # yet (else it would train on the same days again).
    labelled = [v.day for v in streak if v.labelled][-policy.window_days :]
    untried = date.min if last_tried is None else _tried_until(last_tried)
    if len(labelled) < policy.labelled_days_needed or labelled[-1] <= untried:
        unlabelled = [v.day for v in streak if not v.labelled and v.day > untried]
        unlabelled = unlabelled[-policy.window_days :]
        return RetrainingDecision(
            False,
            f"{verdict.day}: {len(streak)} consecutive alarming days ({evidence}); waiting for "
            f"labels of {_listed(unlabelled)}: a retraining needs "
            f"{policy.labelled_days_needed} labelled day(s) of the streak, "
            f"{len(labelled)} so far",
            signals=signals,
            waiting_for_labels=True,
        )
    retry = (
        f"; last retraining run {failed[-1].run_id} failed, attempt {len(failed) + 1} of "
        f"{policy.max_attempts}"
        if failed
        else ""
    )
    window = f"window: labelled days {labelled[0]}..{labelled[-1]}"
    if labelled[-1] != verdict.day:
        window += " (later days await their labels)"
    return RetrainingDecision(
        True,
        # The retry first: the run's reason tag keeps the first 200 characters.
        f"{len(streak)} consecutive alarming days up to {verdict.day}{retry}; {window}; {evidence}",
        window_start=labelled[0],
        window_end=labelled[-1],
        attempt=len(failed) + 1,
        signals=signals,
    )


def _streak_signals(streak: Sequence[DayVerdict]) -> tuple[str, ...]:
    order = (SIGNAL_REALIZED, SIGNAL_ESTIMATED, SIGNAL_FEATURE_DRIFT)
    return tuple(s for s in order if any(s in v.signals for v in streak))


def _evidence(streak: Sequence[DayVerdict]) -> str:
    """Which signal alarmed on which days, e.g. "estimated accuracy drop on 2026-01-09,
    2026-01-10 (no labels yet); feature drift critical on 2026-01-10"; a critical day is
    named by what made it so (feature drift, data-quality drift)."""
    parts = []
    for signal, what in (
        (SIGNAL_REALIZED, "realized performance drop"),
        (SIGNAL_ESTIMATED, "estimated performance drop"),
    ):
        days = [v.day for v in streak if signal in v.signals]
        if days:
            note = " (no labels yet)" if signal == SIGNAL_ESTIMATED else ""
            parts.append(f"{what} on {_listed(days)}{note}")
    critical = [v for v in streak if SIGNAL_FEATURE_DRIFT in v.signals]
    for source in dict.fromkeys(v.drift_source for v in critical):
        days = [v.day for v in critical if v.drift_source == source]
        parts.append(f"{source} critical on {_listed(days)}")
    return "; ".join(parts)


def _listed(days: Sequence[date]) -> str:
    shown = ", ".join(d.isoformat() for d in days[:5])
    return shown + (f" and {len(days) - 5} more" if len(days) > 5 else "")


def _guarded(
    decision: RetrainingDecision,
    verdict: DayVerdict,
    newest: date,
    attempts: Sequence[RetrainingAttempt],
    policy: RetrainingPolicy,
    now: datetime,
) -> RetrainingDecision:
    """The launch, unless a retraining started less than min_interval ago."""
    latest = max(attempts, key=lambda a: a.created, default=None)
    if latest is not None and now - latest.created < policy.min_interval:
        wait = policy.min_interval - (now - latest.created)
        return RetrainingDecision(
            False,
            f"loop guard: retraining run {latest.run_id} started at "
            f"{latest.created:%Y-%m-%d %H:%M:%S} UTC, less than {policy.min_interval} ago; "
            f"{verdict.day} is due, {wait} left",
        )
    if verdict.day < newest:
        return replace(decision, reason=f"catching up on {verdict.day}: {decision.reason}")
    return decision


def _held(verdict: DayVerdict) -> str:
    performance = "realized performance held" if verdict.labelled else "no labels yet"
    if not verdict.labelled:
        performance += ", estimated performance held"
    return f"{verdict.day}: {verdict.drift_source} {verdict.severity}, {performance}; nothing to do"


def _end(attempt: RetrainingAttempt) -> date:
    assert attempt.window_end is not None
    return attempt.window_end


def _tried_until(attempt: RetrainingAttempt) -> date:
    """The last day the attempt accounts for: its window's end, or the day its model was
    rolled back on live evidence when later."""
    end = _end(attempt)
    return max(end, attempt.rolled_back_on) if attempt.rolled_back_on else end


def _alarming_streak(day: date, by_day: Mapping[date, DayVerdict]) -> list[date]:
    """The consecutive calendar days ending at `day` that are all alarming."""
    streak = [day]
    while (previous := by_day.get(streak[0] - timedelta(days=1))) is not None and (
        previous.alarming
    ):
        streak.insert(0, previous.day)
    return streak


def planned_retrainings(
    verdicts: Sequence[DayVerdict], policy: RetrainingPolicy
) -> list[RetrainingDecision]:
    """The retrainings the policy starts over these reports when each succeeds at once and no
    guard interferes: what a test expects the sensor to have launched, however days arrived."""
    planned: list[RetrainingDecision] = []
    attempts: list[RetrainingAttempt] = []
    ordered = sorted(verdicts, key=lambda v: v.day)
    epoch = datetime(1970, 1, 1)
    for i in range(len(ordered)):
        decision = decide_retraining(
            ordered[: i + 1],
            attempts,
            policy=policy.model_copy(update={"min_interval_minutes": 0.0}),
            now=epoch,
        )
        if decision.launch:
            planned.append(decision)
            attempts.append(
                RetrainingAttempt(
                    f"planned-{len(planned)}",
                    "succeeded",
                    epoch,
                    decision.window_start,
                    decision.window_end,
                )
            )
    return planned


def last_retraining_summary(attempt: RetrainingAttempt | None) -> dict[str, str | bool]:
    """The latest retraining and how it ended, for the day's drift report beside the verdict
    that may call for the next one: a failed retraining shows on the report, not only on the
    sensor's tick. Empty when there has been none."""
    if attempt is None:
        return {}
    window = (
        f"window {attempt.window_start}..{attempt.window_end}"
        if attempt.window_end
        else "the configured training source"
    )
    return {
        "last_retraining": f"run {attempt.run_id} {attempt.status} ({window})",
        "last_retraining_failed": attempt.status == "failed",
    }
