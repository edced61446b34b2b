"""The two live roles against an in-memory registry: one challenger at a time, the gate's and
the person's moves of `challenger`, the retire, and every move in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from mlops_assets.contracts import (
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    ROLE_REASON_TAG,
    ROLE_TAG,
)
from mlops_assets.domain.promotion import (
    Action,
    PromotionError,
    audit_trail,
    interrupted_repairs,
    promote_given_version,
    register_and_promote,
    retire_challenger,
    roll_back,
    set_challenger,
)
from mlops_assets.domain.registry import RegistryVersion
from mlops_assets_tests.domain.promotion.test_moves import (
    GATE,
    InMemoryRegistry,
    TamperedModel,
    _candidate,
    _comparison,
    _never_called,
)


def _gate(registry: InMemoryRegistry, run_id: str, ci_low: float, ci_high: float) -> str:
    champion = registry.aliases[CHAMPION_ALIAS]
    outcome = register_and_promote(
        registry,
        registry.lock,
        _candidate(run_id, _comparison(champion, ci_low, ci_high)),
        GATE,
        _never_called,
    )
    return outcome.outcome.value


def _trail(registry: InMemoryRegistry) -> list[tuple[str, Action, str]]:
    return [(m.version, m.action, m.by) for m in audit_trail(registry.versions())]


def test_one_challenger_at_a_time_the_new_one_replaces_the_old_in_the_audit_trail():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    assert _gate(registry, "r2", -0.01, 0.01) == "challenger"
    assert _gate(registry, "r3", -0.02, 0.005) == "challenger"
    assert registry.aliases == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "3"}
    assert _trail(registry) == [
        ("2", Action.CHALLENGER_SET, "gate"),
        ("2", Action.CHALLENGER_REPLACED, "gate"),
        ("3", Action.CHALLENGER_SET, "gate"),
    ]
    set_move, replaced, _ = audit_trail(registry.versions())
    # The evidence is the comparison's effect and interval; the reason, the gate's.
    assert set_move.evidence == "improvement +0 in log_loss, 95% CI [-0.01, +0.01], n=1000"
    assert "includes 0" in set_move.reason
    assert replaced.reason.startswith("replaced by v3: ")
    assert registry.records["2"].tags[ROLE_TAG] == "none"
    assert registry.records["3"].tags[ROLE_TAG] == "challenger"
    assert (
        "v3 holds `challenger` (challenger_set by gate"
        in registry.records["3"].tags[ROLE_REASON_TAG]
    )
    assert registry.descriptions["3"].startswith("**Role: challenger** — v3 holds `challenger`")
    assert "**Gate decision: Not promoted: the challenger (live" in registry.descriptions["3"]


def test_a_rejected_candidate_takes_no_alias_and_leaves_the_challenger_in_place():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    _gate(registry, "r2", -0.01, 0.01)
    assert _gate(registry, "r3", -0.06, -0.02) == "rejected"
    assert registry.aliases == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "2"}
    assert registry.records["3"].tags[ROLE_TAG] == "none"
    assert (
        "rejected by the gate: worse than champion beyond noise"
        in (registry.records["3"].tags[ROLE_REASON_TAG])
    )
    assert registry.descriptions["3"].startswith("**Role: none** — rejected by the gate")
    assert [m.version for m in audit_trail(registry.versions())] == ["2"]


def test_a_gate_promotion_is_recorded_on_the_new_and_the_replaced_champion():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    assert _gate(registry, "r2", 0.02, 0.06) == "promoted"
    assert _trail(registry) == [
        ("1", Action.REPLACED_AS_CHAMPION, "gate"),
        ("2", Action.PROMOTED, "gate"),
        ("1", Action.GUARDING, "gate"),
    ]
    # The former champion is kept on as the challenger, so live evidence can undo the move.
    assert registry.aliases == {CHAMPION_ALIAS: "2", CHALLENGER_ALIAS: "1"}
    assert registry.records["2"].tags[ROLE_TAG] == "champion"
    assert registry.records["1"].tags[ROLE_TAG] == "challenger"
    assert (
        "former champion, shadowed after v2 was promoted over it by gate"
        in (registry.records["1"].tags[ROLE_REASON_TAG])
    )


def test_with_shadowing_off_a_gate_promotion_retires_the_former_champion():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    outcome = register_and_promote(
        registry,
        registry.lock,
        _candidate("r2", _comparison("1", 0.02, 0.06)),
        GATE,
        _never_called,
        shadow_former=False,
    )
    assert (outcome.promoted, outcome.challenger_version) == (True, None)
    assert registry.aliases == {CHAMPION_ALIAS: "2"}
    assert registry.records["1"].tags[ROLE_TAG] == "none"
    promote_given_version(registry, registry.lock, "1", "back", "ann", shadow_former=False)
    assert registry.aliases == {CHAMPION_ALIAS: "1"}


def test_a_challenger_set_by_hand_replaces_the_gates_with_its_reason_in_the_audit_trail():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    _gate(registry, "r2", -0.01, 0.01)
    _gate(registry, "r3", -0.06, -0.02)  # rejected
    move = set_challenger(registry, registry.lock, " 3 ", "shadow it despite the test split", "ann")
    assert move is not None and move.version == "3"
    assert registry.aliases == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "3"}
    *_, replaced, manual = audit_trail(registry.versions())
    assert (manual.version, manual.action, manual.by) == ("3", Action.CHALLENGER_SET, "ann")
    assert manual.reason == "shadow it despite the test split"
    assert manual.evidence == "by hand (no comparison)"
    assert (replaced.version, replaced.action) == ("2", Action.CHALLENGER_REPLACED)
    assert replaced.reason == "replaced by v3: shadow it despite the test split"
    # Setting it again is a no-op; the champion cannot be the challenger; nor an unknown one.
    assert set_challenger(registry, registry.lock, "3", "again", "ann") is None
    with pytest.raises(PromotionError, match="v1 holds `champion`"):
        set_challenger(registry, registry.lock, "1", "why", "ann")
    with pytest.raises(PromotionError, match=r"no version '9' \(versions: 1, 2, 3\)"):
        set_challenger(registry, registry.lock, "9", "why", "ann")
    assert registry.moves_outside_lock == 0 and not registry.held


def test_a_tampered_version_is_not_set_as_challenger():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    _gate(registry, "r2", -0.06, -0.02)
    registry.tampered.add("2")
    with pytest.raises(TamperedModel):
        set_challenger(registry, registry.lock, "2", "why", "ann")
    assert registry.aliases == {CHAMPION_ALIAS: "1"}


def test_the_challenger_is_retired_by_hand_only_when_named_and_recorded():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    _gate(registry, "r2", -0.01, 0.01)
    with pytest.raises(PromotionError, match=r"v1 is not the challenger \(v2 holds"):
        retire_challenger(registry, registry.lock, "1", "why", "bob")
    move = retire_challenger(registry, registry.lock, "2", "worse on live traffic", "bob")
    assert (move.action, move.by, move.reason) == (
        Action.CHALLENGER_RETIRED,
        "bob",
        "worse on live traffic",
    )
    assert registry.aliases == {CHAMPION_ALIAS: "1"}
    assert registry.records["2"].tags[ROLE_TAG] == "none"
    assert _trail(registry)[-1] == ("2", Action.CHALLENGER_RETIRED, "bob")
    with pytest.raises(PromotionError, match=r"v2 is not the challenger \(no version holds"):
        retire_challenger(registry, registry.lock, "2", "again", "bob")


def test_a_challenger_promoted_by_hand_gives_up_the_alias_and_a_rollback_is_recorded():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    _gate(registry, "r2", -0.01, 0.01)
    promote_given_version(registry, registry.lock, "2", "won in shadow", "cy")
    assert registry.aliases == {CHAMPION_ALIAS: "2", CHALLENGER_ALIAS: "1"}
    # The rollback restores the former champion, which gives up `challenger` as it does.
    roll_back(registry, registry.lock, "bad in production", "dee")
    assert registry.aliases == {CHAMPION_ALIAS: "1"}
    assert _trail(registry)[1:] == [
        ("1", Action.REPLACED_AS_CHAMPION, "cy"),
        ("2", Action.PROMOTED, "cy"),
        ("1", Action.GUARDING, "cy"),
        ("2", Action.ROLLED_BACK, "dee"),
        ("1", Action.RESTORED, "dee"),
    ]
    assert registry.records["1"].tags[ROLE_TAG] == "champion"
    assert registry.records["2"].tags[ROLE_TAG] == "none"


def test_a_role_tag_left_stale_by_a_killed_move_is_repaired_by_the_next_move():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    _gate(registry, "r2", -0.01, 0.01)  # v2 the challenger, recorded
    registry.records["1"].tags[ROLE_TAG] = "champion"
    # A move killed between the alias and its record: v2 took `champion`, nothing recorded.
    registry.aliases = {CHAMPION_ALIAS: "2"}
    repairs = interrupted_repairs(registry.versions(), now="2026-01-02T00:00:00+00:00")
    fixed = {fix.version: fix.tags for fix in repairs}
    assert fixed["1"][ROLE_TAG] == "none" and "lost `champion`" in fixed["1"][ROLE_REASON_TAG]
    assert fixed["2"][ROLE_TAG] == "champion"
    assert "holds `champion`; the move that gave it was not recorded" in fixed["2"][ROLE_REASON_TAG]


@dataclass
class LaggingRegistry(InMemoryRegistry):
    """A registry whose listing of versions misses the latest audit entry written (as a
    search served from a replica or a cache may): the numbering must not rest on it."""

    last_audit: tuple[str, str] | None = None

    def set_version_tag(self, version: str, key: str, value: str) -> None:
        super().set_version_tag(version, key, value)
        if key.startswith("audit."):
            self.last_audit = (version, key)

    def versions(self) -> list[RegistryVersion]:
        listed = super().versions()
        if self.last_audit is None:
            return listed
        version, key = self.last_audit
        return [
            replace(v, tags={k: t for k, t in v.tags.items() if (v.version, k) != (version, key)})
            for v in listed
        ]


def test_twenty_moves_read_back_in_the_order_written_with_unique_numbers():
    registry = LaggingRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    written: list[tuple[str, Action]] = []
    for n in range(2, 12):  # ten candidates, each set as challenger by the gate...
        _gate(registry, f"r{n}", -0.01, 0.01)
        if n > 2:
            written.append((str(n - 1), Action.CHALLENGER_REPLACED))
        written.append((str(n), Action.CHALLENGER_SET))
    retire_challenger(registry, registry.lock, "11", "enough", "ann")  # ...then one retired
    written.append(("11", Action.CHALLENGER_RETIRED))
    registry.last_audit = None  # read back once every write is visible
    trail = audit_trail(registry.versions())
    assert [(m.version, m.action) for m in trail] == written
    assert [m.seq for m in trail] == list(range(1, 21))
