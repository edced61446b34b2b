"""The audit trail of the aliases: every move of `champion` or `challenger` onto or off a
version, with who, when, why and the evidence, written as that version's MLflow tags.

A version carries one `audit.<n>` tag per move (JSON; `n` the move's sequence number in the
model's trail, or its place among the version's entries for a trail written before that), its
role now (`alias.role`: champion, challenger or none) with the sentence that says why
(`alias.reason`), and that sentence as the first line of its description, so the MLflow UI says
who holds which alias and why. The moves (moves.py, roles.py, rollback.py, verdicts.py) call
`record` under the champion lock; it numbers each move from the registered model's own counter
(`audit_sequence`), so the numbers are unique and increasing within a model, and
`audit_trail` reads every version's entries back in that order.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from mlops_assets.contracts import (
    AUDIT_SEQUENCE_TAG,
    AUDIT_TAG_PREFIX,
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    ROLE_REASON_TAG,
    ROLE_TAG,
)
from mlops_assets.domain.promotion.gate import MAX_TAG_VALUE
from mlops_assets.domain.registry import RegistryVersion

# The description's first line names the role; a later move replaces that line only.
ROLE_LINE_START = "**Role:"
# An entry's reason and evidence are cut to these lengths, so its JSON fits one tag value.
_MAX_REASON, _MAX_EVIDENCE = 2500, 1500


class Action(StrEnum):
    """What a move did to the version it is recorded on."""

    PROMOTED = "promoted"
    """Took `champion` (the gate, or by hand)."""
    REPLACED_AS_CHAMPION = "replaced_as_champion"
    """Lost `champion` to a promoted version."""
    ROLLED_BACK = "rolled_back"
    """Lost `champion` to a rollback."""
    RESTORED = "restored"
    """Took `champion` back in a rollback."""
    CHALLENGER_SET = "challenger_set"
    """Took `challenger` (the gate's third outcome, or by hand)."""
    CHALLENGER_REPLACED = "challenger_replaced"
    """Lost `challenger` to a newer challenger."""
    CHALLENGER_RETIRED = "challenger_retired"
    """Lost `challenger` by hand (or to its own promotion)."""
    CANARY_SHARE_SET = "canary_share_set"
    """Kept `challenger`; its canary share of live traffic stepped (not a move of an alias)."""
    GUARDING = "guarding"
    """Took `challenger` as the champion a promotion (the gate's, or by hand) replaced:
    shadowed on the following days, it takes `champion` back if the challenger test proves it
    better (rollback.py)."""


# The alias each action leaves the version holding ("none": neither).
ROLE_AFTER: dict[Action, str] = {
    Action.PROMOTED: CHAMPION_ALIAS,
    Action.RESTORED: CHAMPION_ALIAS,
    Action.REPLACED_AS_CHAMPION: "none",
    Action.ROLLED_BACK: "none",
    Action.CHALLENGER_SET: CHALLENGER_ALIAS,
    Action.GUARDING: CHALLENGER_ALIAS,
    Action.CHALLENGER_REPLACED: "none",
    Action.CHALLENGER_RETIRED: "none",
    Action.CANARY_SHARE_SET: CHALLENGER_ALIAS,
}


@dataclass(frozen=True)
class AliasMove:
    """One entry of the audit trail."""

    version: str
    action: Action
    at: str
    """ISO 8601, UTC."""
    by: str
    """Who asked: a person, or `gate` for the promotion gate."""
    reason: str
    evidence: str
    """What the move rests on: the comparison's effect and interval, or `by hand`."""
    seq: int = 0
    """Its place in the model's trail (1, 2, ...), unique within the model: `record` numbers
    it, since two moves of one step share a moment."""

    def sentence(self) -> str:
        role = ROLE_AFTER[self.action]
        holds = "holds no alias" if role == "none" else f"holds `{role}`"
        return (
            f"v{self.version} {holds} ({self.action.value} by {self.by} at {self.at}): "
            f"{self.reason}; evidence: {self.evidence}"
        )

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "action": self.action.value}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AliasMove:
        fields = json.loads(text)
        return cls(**{**fields, "action": Action(fields["action"])})


class TaggedRegistry(Protocol):
    def versions(self) -> list[RegistryVersion]: ...

    def model_tag(self, key: str) -> str | None:
        """The registered model's tag (None: unset)."""
        ...

    def set_model_tag(self, key: str, value: str) -> None: ...

    def set_version_tag(self, version: str, key: str, value: str) -> None: ...

    def set_version_description(self, version: str, description: str) -> None: ...


def record(registry: TaggedRegistry, move: AliasMove, description: str | None = None) -> None:
    """Write `move` on its version: the next `audit.<n>` tag, the role tags and the role
    line of the description (`description`: the version's new description below that line;
    None keeps the one it has). Called under the champion lock, so the numbering is safe."""
    versions = registry.versions()
    held = next(v for v in versions if v.version == move.version)
    move = replace(
        move,
        reason=move.reason[:_MAX_REASON],
        evidence=move.evidence[:_MAX_EVIDENCE],
        seq=_next_sequence(registry, versions),
    )
    sentence = move.sentence()
    # Keyed by its sequence number, not by a count of the version's entries: a listing that
    # misses the latest entry must not make a move overwrite it.
    registry.set_version_tag(move.version, f"{AUDIT_TAG_PREFIX}{move.seq}", move.to_json())
    registry.set_version_tag(move.version, ROLE_TAG, ROLE_AFTER[move.action])
    registry.set_version_tag(move.version, ROLE_REASON_TAG, sentence[:MAX_TAG_VALUE])
    body = _without_role_line(held.description if description is None else description)
    registry.set_version_description(
        move.version, f"{ROLE_LINE_START} {ROLE_AFTER[move.action]}** — {sentence}\n\n{body}"
    )


def _next_sequence(registry: TaggedRegistry, versions: Sequence[RegistryVersion]) -> int:
    """The next number of the model's trail, taken from the registered model's counter (read
    and written by one client, under the lock) rather than from the versions' entries, which
    a search may return without the latest write. The entries still count, for a trail begun
    before the counter. Taken before the entry is written: a move killed in between leaves a
    gap, never two moves with one number."""
    counted = registry.model_tag(AUDIT_SEQUENCE_TAG)
    recorded = max((m.seq for v in versions for m in _entries(v)), default=0)
    number = max(int(counted) if counted and counted.isdigit() else 0, recorded) + 1
    registry.set_model_tag(AUDIT_SEQUENCE_TAG, str(number))
    return number


def role_line(role: str, why: str) -> str:
    """The description's first line for a version no move has touched (a rejected one)."""
    return f"{ROLE_LINE_START} {role}** — {why}"


def audit_trail(versions: Sequence[RegistryVersion]) -> list[AliasMove]:
    """Every recorded move of the model's versions, in the order they were made: by sequence
    number, and for a trail written before numbers were unique (two moves sharing one), by
    time, version and entry, so the same tags always read back in the same order."""
    numbered = [
        ((move.seq, move.at, _number(version.version), entry), move)
        for version in versions
        for entry, move in enumerate(_entries(version))
    ]
    return [move for _, move in sorted(numbered, key=lambda pair: pair[0])]


def last_move(version: RegistryVersion) -> AliasMove | None:
    """The version's latest recorded move of an alias: the one that gave it the role it holds.
    A canary step is recorded in the trail but moves no alias, so it is passed over."""
    moves = [entry for entry in _entries(version) if entry.action != Action.CANARY_SHARE_SET]
    return moves[-1] if moves else None


def roles_since(*versions: RegistryVersion) -> str:
    """When these versions took the roles they hold: the latest of their last recorded moves
    (ISO 8601, UTC; "" when none is recorded). A version's last move is the one that gave it
    its current role, so the same pair holding its roles a second time has a later time; a
    canary step does not start a new tenure."""
    return max((move.at for move in map(last_move, versions) if move is not None), default="")


def _entries(version: RegistryVersion) -> list[AliasMove]:
    numbered = [
        (int(key.removeprefix(AUDIT_TAG_PREFIX)), value)
        for key, value in version.tags.items()
        if key.startswith(AUDIT_TAG_PREFIX) and key.removeprefix(AUDIT_TAG_PREFIX).isdigit()
    ]
    return [AliasMove.from_json(value) for _, value in sorted(numbered)]


def _number(version: str) -> int:
    return int(version) if version.isdigit() else -1


def _without_role_line(description: str) -> str:
    if description.startswith(ROLE_LINE_START):
        return description.partition("\n\n")[2]
    return description


def requester(requested_by: str) -> str:
    """Who asked for a move by hand: as given, else the OS user."""
    return requested_by or os.environ.get("USER") or getpass.getuser()


def now_utc() -> str:
    return datetime.now(UTC).isoformat()
