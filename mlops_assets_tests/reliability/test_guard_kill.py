"""A promotion that dies between the watch's alias and its audit record (the former champion
kept on as `challenger`, audit action `guarding`): the next call of the promotion service
finishes the move it had begun, so a later `promote` verdict for that former champion is still
a rollback, not a plain promotion. A real MLflow store; the failure raised from the registry
at that point, as a kill there leaves it."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from mlops_assets.contracts import (
    AUDIT_TAG_PREFIX,
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    PENDING_CHALLENGER_TAG,
    ROLE_TAG,
    ROLLED_BACK_AT_TAG,
)
from mlops_assets.domain.challenger import ChallengerEvidence, SequentialTestSettings
from mlops_assets.domain.challenger.sequential import ChallengerVerdict
from mlops_assets.domain.promotion import Action, PromotionError, audit_trail, register_and_promote
from mlops_assets.domain.promotion.audit import last_move, roles_since
from mlops_assets.domain.promotion.moves import champion_lock, repair_interrupted
from mlops_assets.domain.promotion.rollback import roll_back
from mlops_assets.domain.promotion.verdicts import act_on_verdict
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.resources.project import ProjectStorage
from mlops_assets_tests.reliability.promotion_kill import GATE, better_than, candidate
from mlops_assets_tests.reliability.test_promotion_kills import _logged_model


class Killed(Exception):
    """The process dying at the injected point."""


class FailingAt:
    """The real registry, failing once at `point`: `alias` just before `challenger` moves onto
    v1, `record` when the audit writer writes v1's `guarding` entry (after the alias moved)."""

    def __init__(self, registry: MlflowRegistry, point: str) -> None:
        self._registry, self._point = registry, point

    @property
    def model_name(self) -> str:
        return self._registry.model_name

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._registry, name)

        def write(*args: Any) -> Any:
            if self._point == "alias" and name == "set_alias" and args == (CHALLENGER_ALIAS, "1"):
                raise Killed(name)
            if (
                self._point == "record"
                and name == "set_version_tag"
                and args[1].startswith(AUDIT_TAG_PREFIX)
                and json.loads(args[2])["action"] == Action.GUARDING
            ):
                raise Killed(name)
            return method(*args)

        return write


def _aliases(registry: MlflowRegistry) -> dict[str, str]:
    model = registry.client().get_registered_model(registry.model_name)
    return {alias: str(version) for alias, version in model.aliases.items()}


def _moves(registry: MlflowRegistry, version: str) -> list[Action]:
    trail = audit_trail(registry.versions())
    return [move.action for move in trail if move.version == version]


def _promote_verdict() -> ChallengerVerdict:
    """Shadow days on which the former champion is 5 points better: a `promote` verdict."""
    rng = np.random.default_rng(7)
    evidence = ChallengerEvidence(settings=SequentialTestSettings())
    for day in ("2026-01-02", "2026-01-03", "2026-01-04"):
        disagree = rng.random(3000) < 0.10
        right = rng.random(3000) < 0.5 + 0.05 / 0.2
        evidence = evidence.add_day(day, np.where(disagree, np.where(right, 1.0, -1.0), 0.0))
    verdict = evidence.verdict()
    assert verdict.decision == "promote", verdict
    return verdict


@pytest.mark.parametrize("point", ["record", "alias"])
def test_a_watch_killed_between_its_alias_and_its_record_still_rolls_back(
    tmp_path, monkeypatch, point
):
    home = tmp_path / "home"
    monkeypatch.setenv("MLOPS_HOME", str(home))
    registry = MlflowRegistry(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    locks = ProjectStorage(home=str(home)).lock
    (run1, model1), (run2, model2) = (_logged_model(registry, f"train {n}") for n in (1, 2))
    first = register_and_promote(registry, locks, candidate(run1, model1, None), GATE, lambda: None)
    assert first.promoted and first.version == "1"

    # The gate promotes v2 over v1 and dies while keeping v1 on as the watched challenger.
    with pytest.raises(Killed):
        register_and_promote(
            FailingAt(registry, point),  # type: ignore[arg-type]
            locks,
            candidate(run2, model2, "1"),
            GATE,
            lambda: better_than("1"),
        )
    left = {CHAMPION_ALIAS: "2", CHALLENGER_ALIAS: "1"} if point == "record" else {"champion": "2"}
    assert _aliases(registry) == left
    assert last_move(registry.version("1")).action is Action.REPLACED_AS_CHAMPION  # type: ignore[union-attr]
    assert registry.model_tag(PENDING_CHALLENGER_TAG)

    if point == "alias":
        # No challenger, so nothing judges the pair: the next move of any role finishes it.
        with champion_lock(registry, locks):
            (said,) = repair_interrupted(registry)
        assert said.startswith("finished the interrupted move of `challenger` onto v1 (guarding")
        assert _aliases(registry) == {CHAMPION_ALIAS: "2", CHALLENGER_ALIAS: "1"}
    # The tenure challenger_comparison stores with the verdict, read from the aliases' trail.
    since = roles_since(registry.version("2"), registry.version("1"))
    move = act_on_verdict(registry, locks, _promote_verdict(), "2", "1", since)

    # A rollback, not a plain promotion of v1.
    assert move is not None and move.action is Action.RESTORED
    assert _aliases(registry) == {CHAMPION_ALIAS: "1"}
    assert _moves(registry, "1") == [
        Action.PROMOTED,
        Action.REPLACED_AS_CHAMPION,
        Action.GUARDING,
        Action.RESTORED,
    ]
    assert _moves(registry, "2") == [Action.PROMOTED, Action.ROLLED_BACK]
    v1, v2 = registry.version("1"), registry.version("2")
    # The guarding record carries the promotion's moment: the pair's tenure did not move.
    guarding = [m for m in audit_trail([v1]) if m.action is Action.GUARDING]
    assert guarding[0].at == since
    assert "former champion, shadowed after v2 was promoted over it by gate" in guarding[0].reason
    assert v1.tags[ROLE_TAG] == CHAMPION_ALIAS
    assert v1.description.startswith("**Role: champion** — v1 holds `champion` (restored by")
    assert ROLLED_BACK_AT_TAG in v2.tags and v2.tags[ROLE_TAG] == "none"
    assert registry.model_tag(PENDING_CHALLENGER_TAG) == ""
    # The demoted version is never a rollback target again.
    with pytest.raises(PromotionError, match="only version that was ever champion"):
        roll_back(registry, locks, "test")
