"""The former champion kept under watch: a promotion (the gate's, or by hand; moves.py) gives
the champion it replaced `challenger`, recorded as `guarding`, so the challenger test can roll
the promotion back on live evidence (verdicts.py). Under the caller's champion lock; the alias
and its records are one recoverable move (pending.py), so a kill between them cannot leave the
former champion holding `challenger` without its `guarding` record."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from mlops_assets.domain.promotion.audit import Action, AliasMove, last_move
from mlops_assets.domain.promotion.pending import make_challenger

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
