"""Every move of the `champion` alias forward (the gate's promotion, a manual promotion) and
the gate's move of `challenger`; the challenger set or retired by hand is in roles.py, a
rollback in rollback.py.

A promotion by the gate or by hand keeps the champion it replaced as the `challenger` (its
audit entry `guarding`; `shadow_former=False` turns it off): shadowed on the following days, it
takes `champion` back if the challenger test proves it better, so a promotion the offline
evidence got wrong is undone on live evidence (verdicts.py).

Each move happens under one lock per model (the same for all, so none interleaves with
another), by compare-and-set, and is recorded in the audit trail (audit.py): the champion is
read, judged and moved with no other run of this project in between. The run queue's tag
limit already keeps retraining runs apart; the lock also covers manual and local runs.

Dagster-free: the registry is the ChampionRegistry interface (MlflowRegistry in the code
location, an in-memory one in the tests) and the locks any named exclusive lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import Any, Protocol

from mlops_assets.contracts import (
    ARCHIVED_AT_TAG,
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    MODEL_HASH_TAG,
    PROMOTED_AT_TAG,
    PROMOTION_AUDIT_TAG,
    REPLACED_TAG,
    ROLE_REASON_TAG,
    ROLE_TAG,
    TEST_METRIC_TAG_PREFIX,
)
from mlops_assets.domain.promotion.audit import (
    Action,
    AliasMove,
    now_utc,
    record,
    requester,
    role_line,
)
from mlops_assets.domain.promotion.comparison import ChampionComparison
from mlops_assets.domain.promotion.gate import (
    DEFAULT_MANUAL_PROMOTION,
    MAX_TAG_VALUE,
    VERSION_PLACEHOLDER,
    GateCheck,
    GateConfig,
    GateDecision,
    GateOutcome,
    ManualPromotion,
    gate_tags,
    judge,
)
from mlops_assets.domain.promotion.guard import (
    finish_guard,
    finish_manual_guard,
    guard_former_champion,
    replaced_champion,
)
from mlops_assets.domain.promotion.history import (
    PromotionError,
    current_champion,
    interrupted_repairs,
)
from mlops_assets.domain.promotion.pending import finish_pending_challenger, make_challenger
from mlops_assets.domain.registry import RegistryVersion, checked_model_name

# Who the audit trail names for the gate's moves, and the evidence of a move by hand.
GATE_REQUESTER = "gate"
BY_HAND = "by hand (no comparison)"

Locks = Callable[[str], AbstractContextManager[None]]
"""Named exclusive locks shared by every process of the project (ProjectStorage.lock)."""


class ChampionRegistry(Protocol):
    """The registry operations that moving `champion` needs."""

    @property
    def model_name(self) -> str: ...

    def ensure_registered_model(self) -> None: ...

    def model_artifact_sha256(self, model_uri: str) -> str: ...

    def register_once(self, model_uri: str, run_id: str, tags: dict[str, str]) -> RegistryVersion:
        """Register the run's model with its tags, at most once per run."""
        ...

    def version_by_alias(self, alias: str) -> RegistryVersion | None: ...

    def versions(self) -> list[RegistryVersion]: ...

    def set_version_tag(self, version: str, key: str, value: str) -> None: ...

    def set_version_description(self, version: str, description: str) -> None: ...

    def set_alias(self, alias: str, version: str) -> None: ...

    def model_tag(self, key: str) -> str | None: ...

    def set_model_tag(self, key: str, value: str) -> None: ...

    def delete_alias(self, alias: str) -> None: ...

    def set_run_tag(self, run_id: str, key: str, value: str) -> None: ...

    def load_model(self, version: str) -> Any:
        """The version's model, after checking its artefact against the recorded hash."""
        ...


@dataclass(frozen=True)
class Candidate:
    """A trained, evaluated model the gate judges."""

    run_id: str
    model_uri: str
    metrics: dict[str, float]
    leaky_features: tuple[str, ...]
    champion: ChampionComparison | None
    """The champion as evaluation saw it (None: there was none)."""
    tags: dict[str, str]
    """Model-version tags besides the gate's, the metrics' and the hash (data hash, ...)."""
    serving_checks: tuple[GateCheck, ...] = ()
    """Can clients call it as they call the champion (services.servability)."""


@dataclass(frozen=True)
class PromotionOutcome:
    version: str
    promoted: bool
    champion_version: str | None
    """The version holding `champion` after this step."""
    decision: GateDecision
    reasons: tuple[str, ...]
    model_hash: str
    challenger_version: str | None = None
    """The version holding `challenger` after this step."""

    @property
    def outcome(self) -> GateOutcome:
        """What this step did with the version: promoted, challenger or rejected (the
        decision that counted: a retried step that finds its version champion promoted it)."""
        return GateOutcome.PROMOTED if self.promoted else self.decision.outcome


@dataclass(frozen=True)
class ChampionMove:
    """A move of `champion` by hand (a rollback or a manual promotion)."""

    from_version: str
    to_version: str
    requested_by: str
    audit: str

    @property
    def moved(self) -> bool:
        return self.from_version != self.to_version


@contextmanager
def champion_lock(registry: ChampionRegistry, locks: Locks) -> Iterator[None]:
    """The one lock every move of this model's `champion` holds."""
    with locks(f"champion-{checked_model_name(registry.model_name)}"):
        yield


def register_and_promote(
    registry: ChampionRegistry,
    locks: Locks,
    candidate: Candidate,
    gate: GateConfig,
    judge_again: Callable[[], ChampionComparison | None],
    manual: ManualPromotion = DEFAULT_MANUAL_PROMOTION,
    shadow_former: bool = True,
) -> PromotionOutcome:
    """Register the candidate and let the gate decide whether it takes `champion`.

    `judge_again` compares the candidate with whichever version holds `champion` now; it is
    called only when the champion moved since evaluation, so the judgement is never stale.
    Safe to retry: a version is registered once per run, and an earlier attempt that moved the
    alias is finished rather than judged again. `manual`: the job the reasons name;
    `shadow_former`: keep the champion replaced as the challenger (`guard_former_champion`).
    """
    decision = judge(
        candidate.metrics,
        gate,
        candidate.champion,
        candidate.leaky_features,
        candidate.serving_checks,
        manual,
    )
    evaluated_against = None if candidate.champion is None else candidate.champion.version
    registry.ensure_registered_model()
    # Hashed from the artefact store itself: a version whose artefact is missing is never
    # registered, and scoring verifies these bytes before it uses the model.
    model_hash = registry.model_artifact_sha256(candidate.model_uri)
    tags = {
        **candidate.tags,
        MODEL_HASH_TAG: model_hash,
        **{f"{TEST_METRIC_TAG_PREFIX}{k}": f"{v:.6g}" for k, v in candidate.metrics.items()},
        **gate_tags(decision, evaluated_against),
    }
    reasons = list(decision.reasons)
    # Everything from the registration to the description happens under the lock: a
    # promotion killed anywhere in it leaves a state the next one recognises and repairs
    # (repair_interrupted), and no live promotion is ever mistaken for a killed one.
    with champion_lock(registry, locks):
        # Registered with its hash, metrics and gate tags in one call (never a version without
        # them), and at most once per MLflow run however often this step is retried.
        registered = registry.register_once(candidate.model_uri, candidate.run_id, tags)
        version = registered.version
        repair_interrupted(registry, exclude=version, manual=manual)
        current = registry.version_by_alias(CHAMPION_ALIAS)
        current_version = None if current is None else current.version
        judged_against = evaluated_against
        if current_version == version:
            # An earlier attempt of this step moved the alias, then failed: finish its work.
            promoted = True
            if PROMOTED_AT_TAG not in registered.tags:
                registry.set_version_tag(version, PROMOTED_AT_TAG, now_utc())
            _tag_run(registry, candidate.run_id, decision, version)
            move = _gate_move(version, Action.PROMOTED, decision)
            if registered.tags.get(ROLE_TAG) != CHAMPION_ALIAS:
                page = decision.as_description(judged_against).replace(VERSION_PLACEHOLDER, version)
                record(registry, move, page)
            # The champion it replaced, kept under watch unless that attempt got so far.
            former = replaced_champion(registry, registered)
            if shadow_former and former not in ("none", version):
                finish_guard(registry, move, former)
        else:
            judged_against = current_version
            if current_version != evaluated_against:
                # The champion moved since evaluation: that judgement is stale. Judge again
                # against the champion now, on the same test rows, before deciding.
                decision = judge(
                    candidate.metrics,
                    gate,
                    judge_again(),
                    candidate.leaky_features,
                    candidate.serving_checks,
                    manual,
                )
                reasons = [
                    f"champion moved from {evaluated_against or 'none'} to "
                    f"{current_version or 'none'} during this run; compared again with "
                    f"{current_version or 'none'}",
                    *decision.reasons,
                ]
                for key, value in gate_tags(decision, current_version).items():
                    registry.set_version_tag(version, key, value)
            _tag_run(registry, candidate.run_id, decision, version)
            # The alias, then the records, the candidate's description last: a kill anywhere
            # before it leaves a version without its page, which the next move repairs.
            promoted = decision.promote
            page = decision.as_description(judged_against).replace(VERSION_PLACEHOLDER, version)
            move = _gate_move(version, Action.PROMOTED, decision)
            if promoted:
                make_champion(registry, move, current_version, page)
                if shadow_former and current_version is not None:
                    guard_former_champion(registry, move, current_version)
            elif decision.outcome is GateOutcome.CHALLENGER:
                make_challenger(registry, replace(move, action=Action.CHALLENGER_SET), page)
            else:
                # Rejected: no alias and no move, but the page and tags say why.
                why = "rejected by the gate: " + "; ".join(decision.reasons)
                why = why.replace(VERSION_PLACEHOLDER, version)
                registry.set_version_tag(version, ROLE_TAG, "none")
                registry.set_version_tag(version, ROLE_REASON_TAG, why[:MAX_TAG_VALUE])
                registry.set_version_description(version, f"{role_line('none', why)}\n\n{page}")
        champion_now = registry.version_by_alias(CHAMPION_ALIAS)
        challenger_now = registry.version_by_alias(CHALLENGER_ALIAS)
    return PromotionOutcome(
        version=version,
        promoted=promoted,
        champion_version=None if champion_now is None else champion_now.version,
        decision=decision,
        reasons=tuple(reason.replace(VERSION_PLACEHOLDER, version) for reason in reasons),
        model_hash=model_hash,
        challenger_version=None if challenger_now is None else challenger_now.version,
    )


def _tag_run(registry: ChampionRegistry, run_id: str, decision: GateDecision, version: str) -> None:
    # Reasons were written before the version had a number; name it in what people read.
    for key, value in decision.as_tags().items():
        registry.set_run_tag(run_id, key, value.replace(VERSION_PLACEHOLDER, version))


def _gate_move(version: str, action: Action, decision: GateDecision) -> AliasMove:
    reason = "; ".join(decision.reasons).replace(VERSION_PLACEHOLDER, version)
    return AliasMove(version, action, now_utc(), GATE_REQUESTER, reason, decision.evidence)


def repair_interrupted(
    registry: ChampionRegistry,
    exclude: str | None = None,
    manual: ManualPromotion = DEFAULT_MANUAL_PROMOTION,
) -> list[str]:
    """Finish a move of `challenger` a kill left begun (pending.py), then correct what a
    promotion killed part-way left (see `interrupted_repairs`), under the champion lock;
    `exclude` is the version the caller is promoting now, `manual` the model's
    promote_version_job. Returns what was repaired, as sentences for the log."""
    # A begun move of `challenger` first: the tags it finishes are what the repairs then read.
    finished = finish_pending_challenger(registry, manual)
    fixes = interrupted_repairs(registry.versions(), now_utc(), exclude, manual)
    for fix in fixes:
        for key, value in fix.tags.items():
            registry.set_version_tag(fix.version, key, value)
        if fix.description is not None:
            registry.set_version_description(fix.version, fix.description)
    return [*finished, *(fix.why for fix in fixes)]


def promote_given_version(
    registry: ChampionRegistry,
    locks: Locks,
    version: str,
    reason: str,
    requested_by: str = "",
    manual: ManualPromotion = DEFAULT_MANUAL_PROMOTION,
    shadow_former: bool = True,
) -> ChampionMove:
    """Move `champion` to `version` by hand (what the gate cannot judge: a new schema, a
    deliberate override), after verifying its artefact, with an audit trail; with
    `shadow_former`, the champion it replaces stays on as the challenger.

    Raises PromotionError for an unknown version, and the registry's artefact error when the
    version's files do not match their recorded hash; nothing is changed then.
    """
    wanted = version.strip()
    with champion_lock(registry, locks):
        repair_interrupted(registry, manual=manual)
        versions = {v.version: v for v in registry.versions()}
        if wanted not in versions:
            known = ", ".join(versions) or "none registered yet"
            raise PromotionError(
                f"{registry.model_name} has no version {wanted!r} (versions: {known}); "
                "nothing was changed."
            )
        who = requester(requested_by)
        current = current_champion(list(versions.values()))
        if current is not None and current.version == wanted:
            if shadow_former:
                finish_manual_guard(registry, current, who)
            return ChampionMove(wanted, wanted, who, "")
        # What scoring will load must be what was registered: the hash is checked here, not
        # first on tomorrow's batch.
        registry.load_model(wanted)
        previous = "none" if current is None else current.version
        now = now_utc()
        audit = f"promoted manually by {who} at {now}, replacing v{previous}: {reason}"
        registry.set_version_tag(wanted, PROMOTION_AUDIT_TAG, audit)
        move = AliasMove(wanted, Action.PROMOTED, now, who, reason, BY_HAND)
        make_champion(registry, move, None if current is None else current.version)
        if shadow_former and current is not None:
            guard_former_champion(registry, move, current.version)
        return ChampionMove(previous, wanted, who, audit)


def make_champion(
    registry: ChampionRegistry, move: AliasMove, replaced: str | None, page: str | None = None
) -> None:
    """`champion` onto `move.version`, recorded on it and on the version it replaced; a
    challenger promoted gives up `challenger` (one version holds one role). `page`: the
    version's new description under its role line (None: unchanged)."""
    # The alias first, then the tags that record the move: a kill before the alias leaves
    # nothing moved; one after it, a champion whose record `interrupted_repairs` completes.
    version, now = move.version, move.at
    registry.set_alias(CHAMPION_ALIAS, version)
    registry.set_version_tag(version, PROMOTED_AT_TAG, now)
    registry.set_version_tag(version, REPLACED_TAG, replaced or "none")
    if replaced is not None:
        registry.set_version_tag(replaced, ARCHIVED_AT_TAG, now)
    challenger = registry.version_by_alias(CHALLENGER_ALIAS)
    if challenger is not None and challenger.version == version:
        registry.delete_alias(CHALLENGER_ALIAS)
    if replaced is not None:
        why = f"replaced by v{version}: {move.reason}"
        record(
            registry,
            replace(move, version=replaced, action=Action.REPLACED_AS_CHAMPION, reason=why),
        )
    record(registry, move, page)
