"""The champion's history as the registry's tags record it: which version held `champion`
before, what a rollback restores, and what a promotion killed part-way left to repair.

Every move of `champion` (moves.py) records itself in model-version tags (contracts.py names
them); these rules read those tags back, over plain RegistryVersion data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mlops_assets.contracts import (
    ARCHIVED_AT_TAG,
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    EVALUATED_AGAINST_TAG,
    GATE_CHECK_TAG_PREFIX,
    GATE_DECISION_TAG,
    GATE_REASONS_TAG,
    PROMOTED_AT_TAG,
    PROMOTION_AUDIT_TAG,
    REPLACED_TAG,
    ROLE_REASON_TAG,
    ROLE_TAG,
    ROLLED_BACK_AT_TAG,
)
from mlops_assets.domain.promotion.gate import (
    DEFAULT_MANUAL_PROMOTION,
    MAX_TAG_VALUE,
    OUTCOME_HEADLINES,
    GateOutcome,
    ManualPromotion,
    promote_version_command,
)
from mlops_assets.domain.registry import RegistryVersion


class PromotionError(ValueError):
    """A requested move of `champion` cannot be made; the registry was left unchanged."""


def current_champion(versions: Sequence[RegistryVersion]) -> RegistryVersion | None:
    return next((v for v in versions if CHAMPION_ALIAS in v.aliases), None)


def rollback_target(
    model_name: str, versions: Sequence[RegistryVersion]
) -> tuple[RegistryVersion, RegistryVersion]:
    """The champion now and the version a rollback restores.

    A version rolled back once is not a rollback target again, so repeated rollbacks walk back
    through history instead of swapping two versions. Raises PromotionError when there is no
    champion, or no earlier one.
    """
    current = current_champion(versions)
    if current is None:
        raise PromotionError(
            f"{model_name} has no `champion` alias; there is nothing to roll back."
        )
    candidates = [v for v in versions if ROLLED_BACK_AT_TAG not in v.tags or v is current]
    target = previous_champion(candidates)
    if target is None:
        raise PromotionError(
            f"{model_name} v{current.version} is the only version that was ever champion; "
            "there is no earlier champion to roll back to."
        )
    return current, target


@dataclass(frozen=True)
class Repair:
    """What the next promotion writes on a version a killed promotion left half-recorded."""

    version: str
    why: str
    tags: dict[str, str]
    description: str | None = None
    """The version's new description; None: unchanged."""


def interrupted_repairs(
    versions: Sequence[RegistryVersion],
    now: str,
    exclude: str | None = None,
    manual: ManualPromotion = DEFAULT_MANUAL_PROMOTION,
) -> list[Repair]:
    """What a promotion killed at any point (kill -9, OOM, a lost pod) left inconsistent, and
    the writes that make tags, description and alias agree again. A promotion moves the alias
    first and records it after, all under the champion lock, so these are the states a kill
    can leave, and what each becomes:

    - `champion` on a version without `champion.promoted_at`: promoted now;
    - `champion` on a version the gate or a person promoted, without `champion.replaced`:
      the previous champion recorded;
    - a former champion not archived (`champion.archived_at` or `rolled_back_at`) since its
      promotion: archived now;
    - `gate.decision=promoted` on a version that never held `champion`:
      `gate.decision=interrupted`, its description saying so and how to promote it by hand;
    - gate tags and no description: the description, written from the tags;
    - an `alias.role` tag that disagrees with the aliases the version holds (a move killed
      between the alias and its record): the role it holds now, saying so.

    `exclude`: the version being promoted by the caller (its own writes are still to come);
    `manual`: the model's promote_version_job, which an interrupted version's page names.
    """
    champion = current_champion(versions)
    repairs = []
    for version in versions:
        if version.version == exclude:
            continue
        tags: dict[str, str] = {}
        why: list[str] = []
        is_champion = champion is not None and version.version == champion.version
        if is_champion and PROMOTED_AT_TAG not in version.tags:
            tags[PROMOTED_AT_TAG] = now
            why.append("holds `champion` without a recorded promotion time")
        moved_by_us = GATE_DECISION_TAG in version.tags or PROMOTION_AUDIT_TAG in version.tags
        if is_champion and moved_by_us and REPLACED_TAG not in version.tags:
            others = [v for v in versions if v.version != version.version]
            before = previous_champion(others)
            tags[REPLACED_TAG] = "none" if before is None else before.version
            why.append("holds `champion` without the version it replaced")
        if not is_champion and PROMOTED_AT_TAG in version.tags and _not_archived(version):
            tags[ARCHIVED_AT_TAG] = now
            why.append("lost `champion` without being archived")
        if (
            not is_champion
            and PROMOTED_AT_TAG not in version.tags
            and version.tags.get(GATE_DECISION_TAG) == "promoted"
        ):
            reasons = version.tags.get(GATE_REASONS_TAG, "")
            tags[GATE_DECISION_TAG] = GateOutcome.INTERRUPTED.value
            tags[GATE_REASONS_TAG] = (
                "the gate approved it, but its promotion was interrupted before it moved "
                f"`champion`; it never was champion. The gate's reasons: {reasons}"
            )[:MAX_TAG_VALUE]
            why.append("is tagged `gate.decision=promoted` but never held `champion`")
        role, reason = _role_now(version)
        if role is not None and version.tags.get(ROLE_TAG) != role:
            tags[ROLE_TAG], tags[ROLE_REASON_TAG] = role, reason
            why.append(f"holds role {role} without it recorded")
        merged = {**version.tags, **tags}
        description = None
        if GATE_DECISION_TAG in merged and (
            not version.description.strip() or GATE_DECISION_TAG in tags
        ):
            description = description_from_tags(version.version, merged, manual)
            if not version.description.strip():
                why.append("has gate tags but no description")
        if why:
            repairs.append(
                Repair(version.version, f"v{version.version} {'; '.join(why)}", tags, description)
            )
    return repairs


def _role_now(version: RegistryVersion) -> tuple[str | None, str]:
    """The role the version's aliases give it, when its `alias.role` tag must change to say
    so (None: leave the tag as it is; a version no move recorded, and holding no alias, keeps
    none)."""
    for alias in (CHAMPION_ALIAS, CHALLENGER_ALIAS):
        if alias in version.aliases:
            return alias, (
                f"v{version.version} holds `{alias}`; the move that gave it was not recorded "
                "(made before the audit trail, or interrupted before its record)"
            )
    recorded = version.tags.get(ROLE_TAG)
    if recorded in (CHAMPION_ALIAS, CHALLENGER_ALIAS):
        return "none", (
            f"v{version.version} lost `{recorded}` in a move interrupted before its record"
        )
    return None, ""


def _not_archived(version: RegistryVersion) -> bool:
    promoted = _moment(version.tags[PROMOTED_AT_TAG])
    left = [
        _moment(version.tags[t]) for t in (ARCHIVED_AT_TAG, ROLLED_BACK_AT_TAG) if t in version.tags
    ]
    return promoted is not None and not any(m is not None and m >= promoted for m in left)


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def description_from_tags(
    version: str, tags: dict[str, str], manual: ManualPromotion = DEFAULT_MANUAL_PROMOTION
) -> str:
    """A version's gate page rebuilt from its tags (decision, reasons, checks, the champion
    it was judged against), for a version whose promotion was killed before writing it."""
    decision = tags.get(GATE_DECISION_TAG, "")
    try:
        verdict = OUTCOME_HEADLINES[GateOutcome(decision)]
    except ValueError:  # a value this gate never writes (set by hand): shown as it is
        verdict = decision
    against = tags.get(EVALUATED_AGAINST_TAG, "none")
    reasons = [r for r in tags.get(GATE_REASONS_TAG, "").split("; ") if r]
    checks = sorted(
        (key.removeprefix(GATE_CHECK_TAG_PREFIX), value)
        for key, value in tags.items()
        if key.startswith(GATE_CHECK_TAG_PREFIX)
    )
    lines = [
        f"**Gate decision: {verdict}**, judged against champion "
        f"{'none' if against == 'none' else 'v' + against}.",
        "",
        *(f"- {reason}" for reason in reasons),
    ]
    if checks:
        lines += ["", "| check | outcome |", "| --- | --- |"]
        lines += [f"| {name} | {outcome} |" for name, outcome in checks]
    lines += [
        "",
        "_Written from this version's tags by a later promotion: the promotion that judged it "
        "was killed before it wrote this page._",
    ]
    if decision == GateOutcome.INTERRUPTED:
        lines += [
            "",
            f"To make it champion after all: {promote_version_command(version, manual)}",
        ]
    return "\n".join(lines)


def previous_champion(versions: Sequence[RegistryVersion]) -> RegistryVersion | None:
    """The most recently promoted version that is not the current champion, if any.

    Ties on the promotion time (same clock tick) go to the newer version.
    """
    earlier = [v for v in versions if PROMOTED_AT_TAG in v.tags and CHAMPION_ALIAS not in v.aliases]
    if not earlier:
        return None
    return max(earlier, key=lambda v: (_promoted_at(v), v.created_at_ms, _version_number(v)))


def _promoted_at(version: RegistryVersion) -> datetime:
    text = version.tags[PROMOTED_AT_TAG]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise ValueError(
            f"version {version.version}: tag {PROMOTED_AT_TAG}={text!r} is not an ISO 8601 "
            "timestamp; fix or delete the tag."
        ) from error
    # Naive timestamps are read as UTC so they compare with the aware ones this package writes.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _version_number(version: RegistryVersion) -> int:
    return int(version.version) if version.version.isdigit() else -1
