"""`challenger` set, as one recoverable move: its intent is written before the alias moves and
cleared after its audit records, so a process killed in between leaves the intent behind, and
the next move under the champion lock (`repair_interrupted`, moves.py) finishes it.

Why an intent rather than a repair from the aliases alone: the alias says that a version holds
`challenger`, not why. A former champion kept under watch after a promotion (`guarding`,
guard.py) and a challenger set by the gate or by hand hold the same alias; only the audit
record tells them apart, and a `promote` verdict is a rollback for the first and a plain
promotion for the second (verdicts.py). A kill after the alias and before the record used to
turn a watched former champion into an ordinary challenger. MLflow has no transaction over an
alias and a tag, so the intent (one tag, written at once) is the record that survives.

The intent is finished, not undone: it was written under the lock by a move that had already
decided (the promotion it guards has moved `champion`), and no other move ran since (every
move repairs first, under the same lock). It is dropped, with nothing moved, only when the
registry no longer matches what it saw (the alias moved by someone outside the service, or the
version now champion): the compare of a compare-and-set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_assets.contracts import (
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    GATE_DECISION_TAG,
    PENDING_CHALLENGER_TAG,
)
from mlops_assets.domain.promotion.audit import (
    ROLE_LINE_START,
    Action,
    AliasMove,
    last_move,
    record,
)
from mlops_assets.domain.promotion.gate import DEFAULT_MANUAL_PROMOTION, ManualPromotion
from mlops_assets.domain.promotion.history import description_from_tags

if TYPE_CHECKING:
    from mlops_assets.domain.promotion.moves import ChampionRegistry
    from mlops_assets.domain.registry import RegistryVersion


@dataclass(frozen=True)
class PendingChallenger:
    """`challenger` onto `move.version`, replacing `replaces` ("": no challenger before)."""

    move: AliasMove
    replaces: str

    def to_json(self) -> str:
        return json.dumps({"move": self.move.to_json(), "replaces": self.replaces})

    @classmethod
    def from_json(cls, text: str) -> PendingChallenger:
        fields = json.loads(text)
        return cls(AliasMove.from_json(fields["move"]), fields["replaces"])


def make_challenger(registry: ChampionRegistry, move: AliasMove, page: str | None = None) -> None:
    """`challenger` onto `move.version` (compare-and-set under the caller's champion lock):
    the intent, the alias, the records (the challenger it replaces, if any, loses the alias;
    then the move's, with `page` as the version's description), and the intent cleared. Used
    by every move that sets `challenger`: the gate's third outcome, by hand (roles.py), the
    former champion kept under watch (guard.py)."""
    before = registry.version_by_alias(CHALLENGER_ALIAS)
    pending = PendingChallenger(move, "" if before is None else before.version)
    registry.set_model_tag(PENDING_CHALLENGER_TAG, pending.to_json())
    _complete(registry, pending, page)
    registry.set_model_tag(PENDING_CHALLENGER_TAG, "")


def finish_pending_challenger(
    registry: ChampionRegistry, manual: ManualPromotion = DEFAULT_MANUAL_PROMOTION
) -> list[str]:
    """Finish (or drop, when the registry has moved past it) a move of `challenger` a killed
    process left begun, under the caller's champion lock. What was done, as sentences for the
    log; [] when nothing was pending."""
    raw = registry.model_tag(PENDING_CHALLENGER_TAG)
    if not raw:
        return []
    try:
        pending = PendingChallenger.from_json(raw)
    except (ValueError, KeyError, TypeError) as error:
        # Not written by this package (edited by hand): it must not block every later move.
        registry.set_model_tag(PENDING_CHALLENGER_TAG, "")
        return [f"dropped an unreadable {PENDING_CHALLENGER_TAG} tag ({error}): {raw[:200]!r}"]
    version = pending.move.version
    target = next((v for v in registry.versions() if v.version == version), None)
    held = registry.version_by_alias(CHALLENGER_ALIAS)
    holder = "" if held is None else held.version
    if (
        target is None
        or CHAMPION_ALIAS in target.aliases
        or holder not in (version, pending.replaces)
    ):
        said = (
            f"dropped the interrupted move of `challenger` onto v{version} "
            f"({pending.move.action.value}): the aliases moved since, nothing was changed"
        )
    else:
        _complete(registry, pending, _gate_page(target, manual))
        said = (
            f"finished the interrupted move of `challenger` onto v{version} "
            f"({pending.move.action.value}, begun at {pending.move.at})"
        )
    registry.set_model_tag(PENDING_CHALLENGER_TAG, "")
    return [said]


def _complete(registry: ChampionRegistry, pending: PendingChallenger, page: str | None) -> None:
    """The alias and each record of `pending` that is not there yet: the same writes whether
    the move runs now or is finished after a kill, each skipped when already made."""
    move = pending.move
    held = registry.version_by_alias(CHALLENGER_ALIAS)
    if held is None or held.version != move.version:
        registry.set_alias(CHALLENGER_ALIAS, move.version)
    if pending.replaces and pending.replaces != move.version:
        replaced = AliasMove(
            pending.replaces,
            Action.CHALLENGER_REPLACED,
            move.at,
            move.by,
            f"replaced by v{move.version}: {move.reason}",
            move.evidence,
        )
        if not _recorded(registry, replaced):
            record(registry, replaced)
    if not _recorded(registry, move):
        record(registry, move, page)


def _recorded(registry: ChampionRegistry, move: AliasMove) -> bool:
    """Whether the version's latest move of an alias is `move` (its record was written)."""
    held = next((v for v in registry.versions() if v.version == move.version), None)
    last = None if held is None else last_move(held)
    return last is not None and (last.action, last.at, last.by) == (move.action, move.at, move.by)


def _gate_page(version: RegistryVersion, manual: ManualPromotion) -> str | None:
    """The gate's page for a version the gate judged whose page a kill kept from being written
    (rebuilt from its tags); None keeps the description it has."""
    body = version.description
    if body.startswith(ROLE_LINE_START):
        body = body.partition("\n\n")[2]
    if GATE_DECISION_TAG not in version.tags or body.strip():
        return None
    return description_from_tags(version.version, dict(version.tags), manual)
