"""A move of `challenger` begun and killed part-way (domain/promotion/pending.py), against the
in-memory registry: the next move under the champion lock finishes it, each record once, or
drops it when the aliases have moved since; the gate's page is rebuilt when the kill kept it
from being written. The real store and the rollback it protects: reliability/test_guard_kill.py."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mlops_assets.contracts import (
    AUDIT_TAG_PREFIX,
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    PENDING_CHALLENGER_TAG,
)
from mlops_assets.domain.promotion import Action, audit_trail, register_and_promote, set_challenger
from mlops_assets.domain.promotion.moves import repair_interrupted
from mlops_assets_tests.domain.promotion.test_moves import (
    GATE,
    InMemoryRegistry,
    _candidate,
    _comparison,
    _never_called,
)


class Killed(Exception):
    pass


@dataclass
class KilledAtRecord(InMemoryRegistry):
    """Dies at the first audit entry written while `armed` (after the alias moved)."""

    armed: bool = False

    def set_version_tag(self, version: str, key: str, value: str) -> None:
        if self.armed and key.startswith(AUDIT_TAG_PREFIX):
            self.armed = False
            raise Killed(key)
        super().set_version_tag(version, key, value)


def _trail(registry: InMemoryRegistry) -> list[tuple[str, Action]]:
    return [(m.version, m.action) for m in audit_trail(registry.versions())]


def test_a_challenger_set_by_hand_and_killed_is_finished_each_record_once():
    registry = KilledAtRecord()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    for run in ("r2", "r3"):
        registry.register_once(f"models:/m-{run}", run, {})
    set_challenger(registry, registry.lock, "2", "first look", "ana")
    registry.armed = True
    with pytest.raises(Killed):
        set_challenger(registry, registry.lock, "3", "second look", "ana")
    # The alias moved; neither record was written; the intent says what was begun.
    assert registry.aliases == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "3"}
    assert _trail(registry) == [("2", Action.CHALLENGER_SET)]
    assert registry.model_tags[PENDING_CHALLENGER_TAG]

    with registry.lock("champion-credit-default"):
        said = repair_interrupted(registry)
    assert said[0].startswith("finished the interrupted move of `challenger` onto v3")
    assert _trail(registry) == [
        ("2", Action.CHALLENGER_SET),
        ("2", Action.CHALLENGER_REPLACED),
        ("3", Action.CHALLENGER_SET),
    ]
    assert registry.model_tags[PENDING_CHALLENGER_TAG] == ""
    # A second repair finds nothing to do.
    with registry.lock("champion-credit-default"):
        assert repair_interrupted(registry) == []
    assert len(_trail(registry)) == 3


def test_an_intent_the_aliases_moved_past_is_dropped_with_nothing_moved():
    registry = KilledAtRecord()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    for run in ("r2", "r3"):
        registry.register_once(f"models:/m-{run}", run, {})
    registry.armed = True
    with pytest.raises(Killed):
        set_challenger(registry, registry.lock, "2", "a look", "ana")
    # Someone moves the alias in the MLflow UI before any move of this service runs.
    registry.aliases[CHALLENGER_ALIAS] = "3"
    with registry.lock("champion-credit-default"):
        said = repair_interrupted(registry)
    assert said[0].startswith("dropped the interrupted move of `challenger` onto v2")
    assert registry.aliases == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "3"}
    assert _trail(registry) == []
    assert registry.model_tags[PENDING_CHALLENGER_TAG] == ""


def test_the_gates_challenger_killed_before_its_page_gets_the_page_from_its_tags():
    registry = KilledAtRecord()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    registry.armed = True
    with pytest.raises(Killed):
        register_and_promote(
            registry,
            registry.lock,
            _candidate("r2", _comparison("1", -0.01, 0.01)),
            GATE,
            _never_called,
        )
    assert registry.aliases == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "2"}
    assert "2" not in registry.descriptions
    with registry.lock("champion-credit-default"):
        repair_interrupted(registry)
    assert _trail(registry) == [("2", Action.CHALLENGER_SET)]
    page = registry.descriptions["2"]
    assert page.startswith("**Role: challenger** — v2 holds `challenger` (challenger_set by gate")
    assert "**Gate decision:" in page and "Written from this version's tags" in page


def test_an_unreadable_intent_is_dropped_and_blocks_no_move():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    registry.register_once("models:/m-r2", "r2", {})
    registry.model_tags[PENDING_CHALLENGER_TAG] = "{edited by hand"
    assert set_challenger(registry, registry.lock, "2", "a look", "ana") is not None
    assert registry.aliases == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "2"}
    assert registry.model_tags[PENDING_CHALLENGER_TAG] == ""
