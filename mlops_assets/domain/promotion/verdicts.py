"""The aliases moved on the challenger test's verdict (domain/challenger/sequential.py): a
challenger proven better on live labelled rows takes `champion`, one proven worse (or undecided
at the horizon) loses `challenger`. When the challenger is the former champion kept on after a
promotion (`guarding`, moves.py), proven better means the promotion was wrong: it takes
`champion` back in a rollback (rollback.py) and the demoted version is never a rollback target
again. The same lock, compare-and-set and audit trail as every other move: the verdict judged
one pair of versions, so it moves nothing once either role has changed hands since.
"""

from __future__ import annotations

from mlops_assets.contracts import (
    CANARY_SHARE_TAG,
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    PROMOTION_AUDIT_TAG,
)
from mlops_assets.domain.challenger.canary import CanarySchedule, CanaryShare, canary_step
from mlops_assets.domain.challenger.sequential import ChallengerVerdict
from mlops_assets.domain.promotion.audit import (
    Action,
    AliasMove,
    last_move,
    now_utc,
    record,
    roles_since,
)
from mlops_assets.domain.promotion.gate import DEFAULT_MANUAL_PROMOTION, ManualPromotion
from mlops_assets.domain.promotion.moves import (
    ChampionRegistry,
    Locks,
    champion_lock,
    make_champion,
    repair_interrupted,
)
from mlops_assets.domain.promotion.rollback import restore
from mlops_assets.domain.registry import RegistryVersion

CHALLENGER_TEST = "challenger_test"
"""Who a verdict's move is recorded as asked by (the gate's is `gate`)."""


def verdict_evidence(verdict: ChallengerVerdict) -> str:
    """The figures a move on the verdict rests on, for the audit trail."""
    return (
        f"{verdict.loss} loss improvement {verdict.effect:+.4f}, "
        f"{1 - verdict.alpha:.0%} confidence sequence [{verdict.low:+.4f}, {verdict.high:+.4f}] "
        f"after {verdict.rows} labelled rows over {verdict.days} day(s) to {verdict.day} "
        f"(min effect {verdict.min_effect})"
    )


def act_on_verdict(
    registry: ChampionRegistry,
    locks: Locks,
    verdict: ChallengerVerdict,
    champion: str,
    challenger: str,
    since: str,
    manual: ManualPromotion = DEFAULT_MANUAL_PROMOTION,
) -> AliasMove | None:
    """Promote or retire `challenger` as `verdict` decides, if `champion` and `challenger` still
    hold the roles they took at `since` (`roles_since`, stored with the verdict); None when the
    verdict is to keep collecting or the roles have moved. Comparing the time as well as the
    versions keeps a verdict of an earlier time the same pair held the roles (before a
    promotion and its rollback, say) from moving them now.

    A promoted challenger's artefact is verified first (the registry's artefact error is raised
    and nothing moves); it gives up `challenger` as it takes `champion`. A former champion
    (its role from a `guarding` move) proven better takes `champion` back in a rollback: the
    move returned is then `restored`.
    """
    if verdict.decision == "keep_collecting":
        return None
    with champion_lock(registry, locks):
        repair_interrupted(registry, manual=manual)
        held_challenger = challenger_still_held(registry, champion, challenger, since)
        if held_challenger is None:
            return None
        now, evidence = now_utc(), verdict_evidence(verdict)
        guarding = _guarding(last_move(held_challenger))
        if verdict.decision == "promote" and guarding:
            registry.load_model(challenger)
            reason = (
                f"v{challenger}, the former champion shadowed since v{champion}'s promotion, "
                f"proven better on live labelled rows ({verdict.reason}, {verdict.day})"
            )
            return restore(registry, champion, challenger, CHALLENGER_TEST, now, reason, evidence)
        if verdict.decision == "promote":
            registry.load_model(challenger)
            reason = (
                f"proven better than v{champion} on live labelled rows ({verdict.reason}, "
                f"{verdict.day})"
            )
            registry.set_version_tag(
                challenger,
                PROMOTION_AUDIT_TAG,
                f"promoted by the challenger test at {now}, replacing v{champion}: {reason}",
            )
            move = AliasMove(challenger, Action.PROMOTED, now, CHALLENGER_TEST, reason, evidence)
            make_champion(registry, move, champion)
            return move
        reason = f"retired against v{champion}: {verdict.reason} ({verdict.day})"
        if guarding:
            reason = f"former champion {reason}; v{champion}'s promotion stands"
        registry.delete_alias(CHALLENGER_ALIAS)
        move = AliasMove(
            challenger, Action.CHALLENGER_RETIRED, now, CHALLENGER_TEST, reason, evidence
        )
        record(registry, move)
        return move


def step_canary_share(
    registry: ChampionRegistry,
    locks: Locks,
    verdict: ChallengerVerdict,
    champion: str,
    challenger: str,
    since: str,
    schedule: CanarySchedule | None = None,
) -> tuple[CanaryShare, AliasMove] | None:
    """Raise (or lower) the canary's share on a verdict still collecting evidence, one step a
    day (domain/challenger/canary.py), if `champion` and `challenger` still hold the roles they
    took at `since`: the tag `canary_share` on the challenger's version (what the service reads
    at each poll) and an entry in the audit trail, under the champion lock. None when nothing
    changes (the day was stepped on, the share holds, or the roles have moved), and when the
    verdict is on another loss than the schedule's harm bounds (challenger_comparison's `loss`
    set to brier or log_loss): the service then keeps MLOPS_CANARY_SHARE."""
    schedule = schedule or CanarySchedule()
    if verdict.decision != "keep_collecting" or verdict.loss != schedule.loss:
        return None
    with champion_lock(registry, locks):
        held_challenger = challenger_still_held(registry, champion, challenger, since)
        if held_challenger is None:
            return None
        tag = held_challenger.tags.get(CANARY_SHARE_TAG, "")
        stored = CanaryShare.from_json(tag) if tag else None
        step = canary_step(stored, verdict, champion, since, schedule)
        if step is None:
            return None
        same_tenure = stored is not None and (stored.champion, stored.since) == (champion, since)
        before = stored.share if stored is not None and same_tenure else 0.0
        registry.set_version_tag(challenger, CANARY_SHARE_TAG, step.to_json())
        reason = (
            f"canary share {before:.0%} -> {step.share:.0%} of live traffic beside v{champion} "
            f"({verdict.day}: still collecting evidence)"
        )
        move = AliasMove(
            challenger,
            Action.CANARY_SHARE_SET,
            now_utc(),
            CHALLENGER_TEST,
            reason,
            verdict_evidence(verdict),
        )
        record(registry, move)
        return step, move


def _guarding(move: AliasMove | None) -> bool:
    """Whether the challenger holds its role as the former champion kept on after a
    promotion."""
    return move is not None and move.action is Action.GUARDING


def challenger_still_held(
    registry: ChampionRegistry, champion: str, challenger: str, since: str
) -> RegistryVersion | None:
    """The challenger's version if `champion` and `challenger` still hold their roles in the
    tenure they took at `since` (`roles_since`): the compare of a compare-and-set (and the
    challenger sensor's read before it takes the lock). None when either moved."""
    held_champion = registry.version_by_alias(CHAMPION_ALIAS)
    held_challenger = registry.version_by_alias(CHALLENGER_ALIAS)
    if (
        held_champion is None
        or held_challenger is None
        or (held_champion.version, held_challenger.version) != (champion, challenger)
        or roles_since(held_champion, held_challenger) != since
    ):
        return None
    return held_challenger
