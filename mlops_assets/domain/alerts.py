"""What a person hears about without watching the UI: one message per incident.

Incidents are critical drift (one per episode of consecutive alarming days, not one per day),
a promotion, a rejected challenger, a rollback and a failed run. The rules here are pure: the
alert sensors feed them the new materialisations and runs, keep the state in their cursor, and
post the messages through the webhook resource. The payload is Slack's incoming-webhook shape
(`text` plus a Markdown section), which Mattermost, Rocket.Chat and Teams' Slack-compatible
endpoints accept too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

AlertKind = Literal["critical_drift", "promotion", "rejection", "rollback", "run_failure"]
# Days of drift history the episode state keeps: enough to join a backfilled day to its episode.
EPISODE_MEMORY_DAYS = 90
_ICON: dict[AlertKind, str] = {
    "critical_drift": ":red_circle:",
    "promotion": ":white_check_mark:",
    "rejection": ":warning:",
    "rollback": ":leftwards_arrow_with_hook:",
    "run_failure": ":x:",
}


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    title: str
    reason: str
    link: str = ""
    """Where a person clicks to see it: the run in the Dagster UI, or the model version."""

    def payload(self) -> dict[str, Any]:
        """The JSON body of a Slack-compatible incoming webhook."""
        text = f"{_ICON[self.kind]} *{self.title}*\n{self.reason}"
        if self.link:
            text += f"\n<{self.link}|Open in the UI>"
        return {
            "text": f"{self.title}: {self.reason}",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        }


@dataclass
class DriftEpisodes:
    """Which days are alarming, and which episodes were already announced (the cursor)."""

    alarming: set[date] = field(default_factory=set)
    announced: set[date] = field(default_factory=set)

    def to_json(self) -> str:
        return json.dumps(
            {
                "alarming": sorted(d.isoformat() for d in self.alarming),
                "announced": sorted(d.isoformat() for d in self.announced),
            }
        )

    @staticmethod
    def from_json(text: str | None) -> DriftEpisodes:
        if not text:
            return DriftEpisodes()
        fields = json.loads(text)
        return DriftEpisodes(
            {date.fromisoformat(d) for d in fields.get("alarming", [])},
            {date.fromisoformat(d) for d in fields.get("announced", [])},
        )

    def episode(self, day: date) -> set[date]:
        """The consecutive alarming days around `day` (empty when `day` is not alarming)."""
        if day not in self.alarming:
            return set()
        days = {day}
        for step in (timedelta(days=-1), timedelta(days=1)):
            current = day + step
            while current in self.alarming:
                days.add(current)
                current += step
        return days


def drift_incidents(
    episodes: DriftEpisodes, reports: Iterable[tuple[date, bool]]
) -> tuple[list[date], DriftEpisodes]:
    """The days that open a new incident, and the state after these reports.

    `reports` are (day, alarming) in the order they were written; a day reported again takes
    its newest verdict. An alarming day is announced unless a day of its episode (the run of
    consecutive alarming days it belongs to, backfilled days included), or the day just before
    it, already was.
    """
    state = DriftEpisodes(set(episodes.alarming), set(episodes.announced))
    opened: list[date] = []
    for day, alarming in reports:
        if not alarming:
            state.alarming.discard(day)
            continue
        state.alarming.add(day)
        episode = state.episode(day)
        # The day before the episode counts too: an announced first day later re-reported
        # clean leaves the rest of its episode announced.
        if not (episode | {min(episode) - timedelta(days=1)}) & state.announced:
            state.announced.add(day)
            opened.append(day)
    if state.alarming | state.announced:
        horizon = max(state.alarming | state.announced) - timedelta(days=EPISODE_MEMORY_DAYS)
        state.alarming = {d for d in state.alarming if d >= horizon}
        state.announced = {d for d in state.announced if d >= horizon}
    return opened, state
