"""`champion` moved back to the version it replaced: by hand (`roll_back`, the rollback job) or
on live evidence (verdicts.py: the former champion shadowed after a promotion, proven better by
the challenger test). Both go through `restore`, under the champion lock, with the audit trail
on both versions; the version rolled back is never a rollback target again.
"""

from __future__ import annotations

from mlops_assets.contracts import (
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    ROLLBACK_AUDIT_TAG,
    ROLLBACK_RESTORED_BY_TAG,
    ROLLED_BACK_AT_TAG,
)
from mlops_assets.domain.promotion.audit import Action, AliasMove, now_utc, record, requester
from mlops_assets.domain.promotion.gate import DEFAULT_MANUAL_PROMOTION, ManualPromotion
from mlops_assets.domain.promotion.history import rollback_target
from mlops_assets.domain.promotion.moves import (
    BY_HAND,
    ChampionMove,
    ChampionRegistry,
    Locks,
    champion_lock,
    repair_interrupted,
)


def roll_back(
    registry: ChampionRegistry,
    locks: Locks,
    reason: str,
    requested_by: str = "",
    manual: ManualPromotion = DEFAULT_MANUAL_PROMOTION,
) -> ChampionMove:
    """Move `champion` back to the previous champion, with an audit trail on both versions;
    `manual`: the job an interrupted move's repair names.

    Raises PromotionError when there is no earlier champion; nothing is changed then.
    """
    with champion_lock(registry, locks):
        repair_interrupted(registry, manual=manual)
        current, target = rollback_target(registry.model_name, registry.versions())
        who, now = requester(requested_by), now_utc()
        restore(registry, current.version, target.version, who, now, reason, BY_HAND)
        return ChampionMove(current.version, target.version, who, rollback_audit(who, now, reason))


def rollback_audit(who: str, at: str, reason: str) -> str:
    """The sentence the rollback tags carry on both versions."""
    return f"rolled back by {who} at {at}: {reason}"


def restore(
    registry: ChampionRegistry,
    current: str,
    target: str,
    who: str,
    at: str,
    reason: str,
    evidence: str,
) -> AliasMove:
    """`champion` from `current` back to `target`, under the caller's champion lock; `target`
    gives up `challenger` first when it holds it (the former champion shadowed after
    `current`'s promotion: one version holds one role). Returns the move recorded on
    `target`."""
    # `challenger` off first: a kill after it leaves `current` champion with no challenger (a
    # state interrupted_repairs records), never one version holding both aliases.
    challenger = registry.version_by_alias(CHALLENGER_ALIAS)
    if challenger is not None and challenger.version == target:
        registry.delete_alias(CHALLENGER_ALIAS)
    registry.set_alias(CHAMPION_ALIAS, target)
    audit = rollback_audit(who, at, reason)
    registry.set_version_tag(current, ROLLED_BACK_AT_TAG, at)
    registry.set_version_tag(current, ROLLBACK_AUDIT_TAG, audit)
    registry.set_version_tag(target, ROLLBACK_RESTORED_BY_TAG, audit)
    back = f"rolled back to v{target}: {reason}"
    record(registry, AliasMove(current, Action.ROLLED_BACK, at, who, back, evidence))
    restored = AliasMove(
        target, Action.RESTORED, at, who, f"restored in place of v{current}: {reason}", evidence
    )
    record(registry, restored)
    return restored
