"""The moves of `champion` (domain.promotion.moves) against an in-memory registry (the
ChampionRegistry interface): lock, compare-and-set, re-judging when the champion moved,
rollback and manual promotion."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import pytest

from mlops_assets.contracts import (
    ARCHIVED_AT_TAG,
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    EVALUATED_AGAINST_TAG,
    GATE_DECISION_TAG,
    GATE_REASONS_TAG,
    MODEL_HASH_TAG,
    PROMOTED_AT_TAG,
    PROMOTION_AUDIT_TAG,
    REPLACED_TAG,
    ROLLBACK_AUDIT_TAG,
    ROLLBACK_RESTORED_BY_TAG,
    ROLLED_BACK_AT_TAG,
)
from mlops_assets.domain.evaluation import PairedComparison
from mlops_assets.domain.promotion import (
    Candidate,
    ChampionComparison,
    GateConfig,
    PromotionError,
    moves,
    promote_given_version,
    register_and_promote,
    roll_back,
)
from mlops_assets.domain.promotion.audit import Action, last_move
from mlops_assets.domain.registry import RegistryVersion
from mlops_assets.resources.project import LockTimeout

GATE = GateConfig(min_metrics={"roc_auc": 0.6})
GOOD = {"roc_auc": 0.8}


class TamperedModel(RuntimeError):
    pass


@dataclass
class InMemoryRegistry:
    """The registry operations of MlflowRegistry, kept in dictionaries. Every alias move
    records whether the champion lock was held at that moment."""

    model_name: str = "credit-default"
    held: set[str] = field(default_factory=set)
    records: dict[str, RegistryVersion] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    run_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    tampered: set[str] = field(default_factory=set)
    moves_outside_lock: int = 0
    model_tags: dict[str, str] = field(default_factory=dict)

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        if name in self.held:
            raise LockTimeout(f"locks/{name}.lock: held by another process")
        self.held.add(name)
        try:
            yield
        finally:
            self.held.discard(name)

    def ensure_registered_model(self) -> None:
        pass

    def model_artifact_sha256(self, model_uri: str) -> str:
        return self.hashes.setdefault(model_uri, f"sha-{model_uri}")

    def register_once(self, model_uri: str, run_id: str, tags: dict[str, str]) -> RegistryVersion:
        for record in self.records.values():
            if record.run_id == run_id:
                return self.version(record.version)
        number = str(len(self.records) + 1)
        self.records[number] = RegistryVersion(number, run_id, tags=dict(tags))
        return self.version(number)

    def version(self, version: str) -> RegistryVersion:
        aliases = tuple(sorted(a for a, v in self.aliases.items() if v == version))
        record = self.records[version]
        description = self.descriptions.get(version, record.description)
        return replace(record, aliases=aliases, tags=dict(record.tags), description=description)

    def version_by_alias(self, alias: str) -> RegistryVersion | None:
        return self.version(self.aliases[alias]) if alias in self.aliases else None

    def versions(self) -> list[RegistryVersion]:
        return [self.version(v) for v in sorted(self.records, key=int)]

    def set_version_tag(self, version: str, key: str, value: str) -> None:
        self.records[version].tags[key] = value

    def set_version_description(self, version: str, description: str) -> None:
        self.descriptions[version] = description

    def model_tag(self, key: str) -> str | None:
        return self.model_tags.get(key)

    def set_model_tag(self, key: str, value: str) -> None:
        self.model_tags[key] = value

    def set_alias(self, alias: str, version: str) -> None:
        if f"champion-{self.model_name}" not in self.held:
            self.moves_outside_lock += 1
        self.aliases[alias] = version

    def delete_alias(self, alias: str) -> None:
        del self.aliases[alias]

    def set_run_tag(self, run_id: str, key: str, value: str) -> None:
        self.run_tags.setdefault(run_id, {})[key] = value

    def load_model(self, version: str) -> str:
        if version in self.tampered:
            raise TamperedModel(f"v{version}: artefact does not match {MODEL_HASH_TAG}")
        return f"model v{version}"

    # Test helpers, not part of the interface.
    def add_champion(self, promoted_at: str) -> str:
        number = str(len(self.records) + 1)
        self.records[number] = RegistryVersion(
            number, f"run{number}", tags={PROMOTED_AT_TAG: promoted_at}
        )
        self.aliases[CHAMPION_ALIAS] = number
        return number


def _comparison(version: str, ci_low: float, ci_high: float) -> ChampionComparison:
    improvement = (ci_low + ci_high) / 2
    paired = PairedComparison(
        "log_loss", 1000, 0.5, 0.5 - improvement, improvement, ci_low, ci_high, 0.95
    )
    return ChampionComparison(version, True, "compatible", {"roc_auc": 0.7}, paired, ())


def _candidate(run_id: str, champion: ChampionComparison | None) -> Candidate:
    return Candidate(
        run_id=run_id,
        model_uri=f"models:/m-{run_id}",
        metrics=GOOD,
        leaky_features=(),
        champion=champion,
        tags={"data_hash": f"hash-{run_id}"},
    )


def _never_called() -> ChampionComparison | None:
    raise AssertionError("the champion did not move: no second judgement expected")


def test_first_candidate_that_passes_the_floors_becomes_champion_with_its_tags():
    registry = InMemoryRegistry()
    outcome = register_and_promote(
        registry, registry.lock, _candidate("r1", None), GATE, _never_called
    )
    assert (outcome.version, outcome.promoted, outcome.champion_version) == ("1", True, "1")
    tags = registry.records["1"].tags
    assert tags[MODEL_HASH_TAG] == "sha-models:/m-r1"
    assert tags["metric.test_roc_auc"] == "0.8"
    assert tags["data_hash"] == "hash-r1"
    assert tags[REPLACED_TAG] == "none" and tags[EVALUATED_AGAINST_TAG] == "none"
    assert PROMOTED_AT_TAG in tags
    assert registry.run_tags["r1"][GATE_DECISION_TAG] == "promoted"
    assert registry.moves_outside_lock == 0 and not registry.held


def test_a_candidate_no_better_than_the_champion_becomes_challenger():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    noise = _comparison("1", -0.01, 0.01)
    outcome = register_and_promote(
        registry, registry.lock, _candidate("r2", noise), GATE, _never_called
    )
    assert (outcome.version, outcome.promoted, outcome.champion_version) == ("2", False, "1")
    assert registry.aliases == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "2"}
    assert registry.records["2"].tags[GATE_DECISION_TAG] == "challenger"
    assert "includes 0" in registry.run_tags["r2"][GATE_REASONS_TAG]


def test_a_better_candidate_replaces_the_champion_it_was_judged_against():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    better = _comparison("1", 0.02, 0.06)
    outcome = register_and_promote(
        registry, registry.lock, _candidate("r2", better), GATE, _never_called
    )
    assert outcome.promoted and registry.aliases[CHAMPION_ALIAS] == "2"
    assert registry.records["2"].tags[REPLACED_TAG] == "1"
    assert registry.records["2"].tags[EVALUATED_AGAINST_TAG] == "1"
    assert ARCHIVED_AT_TAG in registry.records["1"].tags


def test_when_the_champion_moved_after_evaluation_the_candidate_is_judged_again():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    # Evaluated as clearly better than v1; meanwhile another run made v2 champion.
    registry.add_champion("2026-01-02T00:00:00+00:00")
    judged_against: list[str] = []

    def judge_again() -> ChampionComparison:
        judged_against.append(registry.aliases[CHAMPION_ALIAS])
        return _comparison(registry.aliases[CHAMPION_ALIAS], -0.06, -0.02)

    outcome = register_and_promote(
        registry, registry.lock, _candidate("r3", _comparison("1", 0.02, 0.06)), GATE, judge_again
    )
    assert judged_against == ["2"]
    assert not outcome.promoted and outcome.champion_version == "2"
    assert outcome.reasons[0] == (
        "champion moved from 1 to 2 during this run; compared again with 2"
    )
    # Worse than the new champion beyond noise: rejected, no alias.
    assert registry.aliases == {CHAMPION_ALIAS: "2"}
    assert registry.records["3"].tags[EVALUATED_AGAINST_TAG] == "2"
    assert registry.records["3"].tags[GATE_DECISION_TAG] == "rejected"


def test_when_the_champion_moved_a_candidate_better_than_the_new_one_replaces_it():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    registry.add_champion("2026-01-02T00:00:00+00:00")
    outcome = register_and_promote(
        registry,
        registry.lock,
        _candidate("r3", _comparison("1", 0.02, 0.06)),
        GATE,
        lambda: _comparison("2", 0.01, 0.03),
    )
    assert outcome.promoted and registry.aliases[CHAMPION_ALIAS] == "3"
    # Judged against exactly the version it replaced.
    tags = registry.records["3"].tags
    assert tags[REPLACED_TAG] == tags[EVALUATED_AGAINST_TAG] == "2"


def test_a_retried_step_finishes_the_promotion_an_earlier_attempt_made():
    registry = InMemoryRegistry()
    register_and_promote(registry, registry.lock, _candidate("r1", None), GATE, _never_called)
    del registry.records["1"].tags[PROMOTED_AT_TAG]  # that attempt failed after the move
    again = register_and_promote(
        registry, registry.lock, _candidate("r1", None), GATE, _never_called
    )
    assert (again.version, again.promoted) == ("1", True)
    assert len(registry.records) == 1 and PROMOTED_AT_TAG in registry.records["1"].tags


def test_no_decision_is_made_while_another_run_holds_the_champion_lock():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    with registry.lock("champion-credit-default"):
        with pytest.raises(LockTimeout):
            register_and_promote(
                registry,
                registry.lock,
                _candidate("r2", _comparison("1", 0.02, 0.06)),
                GATE,
                _never_called,
            )
        with pytest.raises(LockTimeout):
            roll_back(registry, registry.lock, "bad", "alice")
        with pytest.raises(LockTimeout):
            promote_given_version(registry, registry.lock, "1", "why", "alice")
    assert registry.aliases == {CHAMPION_ALIAS: "1"}


def test_rollback_restores_the_previous_champion_and_walks_back_through_history():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    registry.add_champion("2026-01-02T00:00:00+00:00")
    registry.add_champion("2026-01-03T00:00:00+00:00")
    move = roll_back(registry, registry.lock, "v3 misbehaves", "alice")
    assert (move.from_version, move.to_version, move.requested_by) == ("3", "2", "alice")
    assert registry.aliases[CHAMPION_ALIAS] == "2"
    assert ROLLED_BACK_AT_TAG in registry.records["3"].tags
    assert "rolled back by alice at " in registry.records["3"].tags[ROLLBACK_AUDIT_TAG]
    assert registry.records["2"].tags[ROLLBACK_RESTORED_BY_TAG].endswith(": v3 misbehaves")
    # A second rollback goes to v1, not back to the rolled-back v3.
    assert roll_back(registry, registry.lock, "v2 too", "bob").to_version == "1"
    assert registry.moves_outside_lock == 0


def test_rollback_without_an_earlier_champion_changes_nothing():
    registry = InMemoryRegistry()
    with pytest.raises(PromotionError, match="no `champion` alias"):
        roll_back(registry, registry.lock, "why", "alice")
    registry.add_champion("2026-01-01T00:00:00+00:00")
    with pytest.raises(PromotionError, match="only version that was ever champion"):
        roll_back(registry, registry.lock, "why", "alice")
    assert registry.aliases == {CHAMPION_ALIAS: "1"}
    assert ROLLED_BACK_AT_TAG not in registry.records["1"].tags


def test_a_given_version_is_promoted_after_its_hash_check_with_an_audit_trail():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    register_and_promote(
        registry,
        registry.lock,
        _candidate("r2", _comparison("1", -0.01, 0.01)),
        GATE,
        _never_called,
    )
    assert registry.aliases[CHALLENGER_ALIAS] == "2"
    move = promote_given_version(registry, registry.lock, " 2 ", "reviewed", "bob")
    assert (move.from_version, move.to_version, move.moved) == ("1", "2", True)
    # The replaced champion is kept on as the challenger (shadow_former, the default).
    assert registry.aliases == {CHAMPION_ALIAS: "2", CHALLENGER_ALIAS: "1"}
    tags = registry.records["2"].tags
    assert tags[PROMOTION_AUDIT_TAG].startswith("promoted manually by bob at ")
    assert tags[PROMOTION_AUDIT_TAG].endswith("replacing v1: reviewed")
    assert tags[REPLACED_TAG] == "1" and PROMOTED_AT_TAG in tags
    assert ARCHIVED_AT_TAG in registry.records["1"].tags
    # Promoting the champion again is a no-op.
    assert not promote_given_version(registry, registry.lock, "2", "again", "bob").moved


def test_a_version_whose_artefact_fails_its_hash_check_is_not_promoted():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    registry.add_champion("2026-01-02T00:00:00+00:00")
    registry.aliases[CHAMPION_ALIAS] = "1"
    registry.tampered.add("2")
    with pytest.raises(TamperedModel):
        promote_given_version(registry, registry.lock, "2", "why", "bob")
    assert registry.aliases == {CHAMPION_ALIAS: "1"}
    assert PROMOTION_AUDIT_TAG not in registry.records["2"].tags
    with pytest.raises(PromotionError, match=r"no version '7' \(versions: 1, 2\)"):
        promote_given_version(registry, registry.lock, "7", "why", "bob")


def _killed(*args: object) -> None:
    raise RuntimeError("killed")


def _killed_at_replaced(self: InMemoryRegistry, version: str, key: str, value: str) -> None:
    if key == REPLACED_TAG:
        raise RuntimeError("killed")
    _SET_VERSION_TAG(self, version, key, value)


_SET_VERSION_TAG = InMemoryRegistry.set_version_tag


@pytest.mark.parametrize(
    ("target", "name", "kill"),
    [
        # After `champion` moved and its records, before the former champion took `challenger`.
        (moves, "guard_former_champion", _killed),
        # Right after `champion` moved, before the tag naming the champion it replaced
        # (`champion.replaced`): the retry found no replaced champion to keep under watch (and
        # excludes its own version from the repairs, which would have written the tag).
        (InMemoryRegistry, "set_version_tag", _killed_at_replaced),
    ],
    ids=["before_the_watch", "right_after_the_alias"],
)
def test_a_retried_gate_promotion_keeps_the_former_champion_under_watch(
    monkeypatch, target, name, kill
):
    """An attempt killed after `champion` moved: the retried step finishes the promotion, the
    watch included."""
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    candidate = _candidate("r2", _comparison("1", 0.02, 0.06))
    with monkeypatch.context() as patch:
        patch.setattr(target, name, kill)
        with pytest.raises(RuntimeError):
            register_and_promote(registry, registry.lock, candidate, GATE, _never_called)
    assert registry.aliases == {CHAMPION_ALIAS: "2"}
    again = register_and_promote(registry, registry.lock, candidate, GATE, _never_called)
    assert (again.version, again.promoted, again.challenger_version) == ("2", True, "1")
    assert registry.aliases == {CHAMPION_ALIAS: "2", CHALLENGER_ALIAS: "1"}
    assert registry.records["2"].tags[REPLACED_TAG] == "1"
    assert last_move(registry.version("1")).action == Action.GUARDING


def test_a_manual_promotion_run_again_after_failing_before_the_watch_sets_it(monkeypatch):
    """promote_version_job moved `champion` and failed before the former champion took
    `challenger` (an MLflow outage, a killed run). Run again, as a person does with a failed
    run, it found the version already champion and said there was nothing to do: the
    promotion stayed unwatched. It now finishes the watch, as a retried gate promotion does."""
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    register_and_promote(
        registry, registry.lock, _candidate("r2", _comparison("1", -0.5, -0.2)), GATE, _never_called
    )
    assert registry.aliases == {CHAMPION_ALIAS: "1"}  # v2 rejected: a person overrides

    with monkeypatch.context() as patch:
        patch.setattr(moves, "guard_former_champion", _killed)
        with pytest.raises(RuntimeError):
            promote_given_version(registry, registry.lock, "2", "reviewed", "bob")
    assert registry.aliases == {CHAMPION_ALIAS: "2"}
    again = promote_given_version(registry, registry.lock, "2", "reviewed", "bob")
    assert again.moved is False
    assert registry.aliases == {CHAMPION_ALIAS: "2", CHALLENGER_ALIAS: "1"}
    assert last_move(registry.version("1")).action == Action.GUARDING
    # Asked by someone else, or with the watch off, a champion already in place moves nothing.
    assert promote_given_version(registry, registry.lock, "2", "again", "eve").moved is False
    assert registry.aliases == {CHAMPION_ALIAS: "2", CHALLENGER_ALIAS: "1"}
