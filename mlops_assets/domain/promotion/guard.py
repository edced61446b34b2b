"""The former champion kept under watch: a promotion (the gate's, or by hand; moves.py) gives
the champion it replaced `challenger`, recorded as `guarding`, so the challenger test can roll
the promotion back on live evidence (verdicts.py). Under the caller's champion lock; the alias
and its records are one recoverable move (pending.py), so a kill between them cannot leave the
former champion holding `challenger` without its `guarding` record."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from mlops_assets.contracts import REPLACED_TAG
from mlops_assets.domain.promotion.audit import Action, AliasMove, last_move
from mlops_assets.domain.promotion.history import previous_champion
from mlops_assets.domain.promotion.pending import make_challenger
from mlops_assets.domain.registry import RegistryVersion

if TYPE_CHECKING:
    from mlops_assets.domain.promotion.moves import ChampionRegistry


def guard_former_champion(registry: ChampionRegistry, promoted: AliasMove, former: str) -> None:
    """`challenger` onto `former`, the champion `promoted` just replaced (under the caller's
    champion lock), replacing any other challenger: the former champion is shadowed on the
    following days and the challenger test judges the pair as usual. Recorded as `guarding`,
    which is what makes a `promote` verdict a rollback (verdicts.py)."""
    why = (
        f"former champion, shadowed after v{promoted.version} was promoted over it by "
        f"{promoted.by}: it takes `champion` back if proven better on live labelled rows, and "
        "is retired otherwise"
    )
    make_challenger(registry, replace(promoted, version=former, action=Action.GUARDING, reason=why))


def finish_guard(registry: ChampionRegistry, promoted: AliasMove, former: str) -> None:
    """The watch an attempt killed after `champion` moved did not set: `former` (its last move
    the one that made it champion or replaced it, no `guarding` after) becomes the challenger."""
    held = next((v for v in registry.versions() if v.version == former), None)
    if held is None:
        return
    last = last_move(held)
    if last is None or last.action in (
        Action.REPLACED_AS_CHAMPION,
        Action.PROMOTED,
        Action.RESTORED,
    ):
        guard_former_champion(registry, promoted, former)


def replaced_champion(registry: ChampionRegistry, promoted: RegistryVersion) -> str:
    """The champion `promoted` replaced (`champion.replaced`), for a retried gate step. An
    attempt killed between the alias and that tag left none, and the retry excludes its own
    version from the repairs: the previous champion is found as `interrupted_repairs` finds
    it, and the tag written."""
    if REPLACED_TAG in promoted.tags:
        return promoted.tags[REPLACED_TAG]
    others = [v for v in registry.versions() if v.version != promoted.version]
    before = previous_champion(others)
    replaced = "none" if before is None else before.version
    registry.set_version_tag(promoted.version, REPLACED_TAG, replaced)
    return replaced


def finish_manual_guard(registry: ChampionRegistry, champion: RegistryVersion, who: str) -> None:
    """A promotion by hand asked again by the same person for the version it made champion:
    the run that failed after `champion` moved and before the watch (an MLflow outage, a kill)
    is finished, as a retried gate step finishes its own (`finish_guard`). A champion someone
    else promoted, or the gate, moves nothing."""
    promoted = last_move(champion)
    former = champion.tags.get(REPLACED_TAG, "none")
    if promoted is None or former in ("none", champion.version):
        return
    if (promoted.action, promoted.by) == (Action.PROMOTED, who):
        finish_guard(registry, promoted, former)
