"""The champion comparison and the rules around a move of `champion`, over plain data.

evaluation_report scores the champion on the challenger's test rows (ChampionComparison); the
gate (domain.registry.decide_promotion) judges that comparison; the promotion service
(services.promotion) re-judges it when the champion moved, and picks a rollback target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from mlops_assets.contracts import (
    ARCHIVED_AT_TAG,
    CHAMPION_ALIAS,
    EVALUATED_AGAINST_TAG,
    GATE_CHECK_TAG_PREFIX,
    GATE_DECISION_TAG,
    GATE_REASONS_TAG,
    PROMOTED_AT_TAG,
    PROMOTION_AUDIT_TAG,
    REPLACED_TAG,
    ROLLED_BACK_AT_TAG,
)
from mlops_assets.domain.evaluation import (
    PRIMARY_LOSS,
    PairedComparison,
    Predictions,
    compare_on_slices,
    compute_metrics,
    paired_bootstrap,
    per_row_loss,
)
from mlops_assets.domain.registry import (
    GateCheck,
    GateConfig,
    GateDecision,
    RegistryVersion,
    decide_promotion,
    previous_champion,
    promote_version_command,
)
from mlops_assets.domain.schemas import TaskType
from mlops_assets.domain.training import TrainedModelRef

if TYPE_CHECKING:
    import pandas as pd


class PromotionError(ValueError):
    """A requested move of `champion` cannot be made; the registry was left unchanged."""


class ComparisonSettings(BaseModel):
    """How challenger and champion are compared on the test split. evaluation_report's run
    config is this model; the gate compares again with the same settings."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    bootstrap_resamples: int = 2000
    confidence: float = 0.95
    """Confidence level of the paired bootstrap interval of the challenger's improvement."""
    slice_min_rows: int = 50
    """Slices with fewer test rows are not compared (too noisy to judge)."""


@dataclass(frozen=True)
class ChampionComparison:
    """The champion at evaluation time, scored on the challenger's test split."""

    version: str
    schema_compatible: bool
    schema_detail: str
    metrics: dict[str, float]
    overall: PairedComparison | None
    slices: tuple[tuple[str, str, PairedComparison], ...]


@dataclass(frozen=True)
class EvaluationSummary:
    """evaluation_report's output, what the gate judges: the candidate, its test metrics and
    the champion as evaluation saw it."""

    model: TrainedModelRef
    metrics: dict[str, float]
    champion: ChampionComparison | None
    model_card_path: str
    comparison_settings: ComparisonSettings = field(default_factory=ComparisonSettings)
    """The settings used, so the gate can compare again with the same ones."""


def incompatible_champion(version: str, schema_detail: str) -> ChampionComparison:
    """A champion whose schema the challenger's differs from: no comparison is possible."""
    return ChampionComparison(version, False, schema_detail, {}, None, ())


def compare_predictions(
    *,
    version: str,
    task: TaskType,
    test: pd.DataFrame,
    categorical_features: Sequence[str],
    challenger: Predictions,
    champion: Predictions,
    settings: ComparisonSettings,
    schema_detail: str,
) -> ChampionComparison:
    """Champion and challenger compared row by row on the same test rows: the paired bootstrap
    interval of the improvement in the task's primary loss, overall and per slice."""
    loss = PRIMARY_LOSS[task]
    champion_loss = per_row_loss(task, champion, loss)
    challenger_loss = per_row_loss(task, challenger, loss)
    overall = paired_bootstrap(
        champion_loss,
        challenger_loss,
        metric=loss,
        n_resamples=settings.bootstrap_resamples,
        confidence=settings.confidence,
    )
    slices = compare_on_slices(
        test,
        list(categorical_features),
        champion_loss,
        challenger_loss,
        metric=loss,
        min_rows=settings.slice_min_rows,
    )
    return ChampionComparison(
        version=version,
        schema_compatible=True,
        schema_detail=schema_detail,
        metrics=compute_metrics(task, champion),
        overall=overall,
        slices=tuple(slices),
    )


def judge(
    metrics: dict[str, float],
    gate: GateConfig,
    champion: ChampionComparison | None,
    leaky_features: Sequence[str],
    serving_checks: Sequence[GateCheck] = (),
) -> GateDecision:
    """The gate's decision on a candidate compared with `champion` (None: no champion)."""
    return decide_promotion(
        candidate_metrics=metrics,
        gate=gate,
        schema_compatible=None if champion is None else champion.schema_compatible,
        schema_detail="" if champion is None else champion.schema_detail,
        overall=None if champion is None else champion.overall,
        slices=() if champion is None else champion.slices,
        leaky_features=leaky_features,
        serving_checks=serving_checks,
    )


def gate_tags(decision: GateDecision, judged_against: str | None) -> dict[str, str]:
    """The model-version tags of a decision, naming the champion it was judged against."""
    return {EVALUATED_AGAINST_TAG: judged_against or "none", **decision.as_tags()}


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


# The gate decision of a version the gate approved but whose promotion was killed before it
# moved `champion` (the next promotion writes it; see interrupted_repairs).
INTERRUPTED_DECISION = "interrupted"


@dataclass(frozen=True)
class Repair:
    """What the next promotion writes on a version a killed promotion left half-recorded."""

    version: str
    why: str
    tags: dict[str, str]
    description: str | None = None
    """The version's new description; None: unchanged."""


def interrupted_repairs(
    versions: Sequence[RegistryVersion], now: str, exclude: str | None = None
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
    - gate tags and no description: the description, written from the tags.

    `exclude`: the version being promoted by the caller (its own writes are still to come).
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
            tags[GATE_DECISION_TAG] = INTERRUPTED_DECISION
            tags[GATE_REASONS_TAG] = (
                "the gate approved it, but its promotion was interrupted before it moved "
                f"`champion`; it never was champion. The gate's reasons: {reasons}"
            )[:5000]
            why.append("is tagged `gate.decision=promoted` but never held `champion`")
        merged = {**version.tags, **tags}
        description = None
        if GATE_DECISION_TAG in merged and (
            not version.description.strip() or GATE_DECISION_TAG in tags
        ):
            description = description_from_tags(version.version, merged)
            if not version.description.strip():
                why.append("has gate tags but no description")
        if why:
            repairs.append(
                Repair(version.version, f"v{version.version} {'; '.join(why)}", tags, description)
            )
    return repairs


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


def description_from_tags(version: str, tags: dict[str, str]) -> str:
    """A version's gate page rebuilt from its tags (decision, reasons, checks, the champion
    it was judged against), for a version whose promotion was killed before writing it."""
    decision = tags.get(GATE_DECISION_TAG, "")
    verdict = {
        "promoted": "Promoted to champion",
        "rejected": "Not promoted (kept as challenger)",
        INTERRUPTED_DECISION: "Approved, but never champion: the promotion was interrupted",
    }.get(decision, decision)
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
    if decision == INTERRUPTED_DECISION:
        lines += [
            "",
            f"To make it champion after all: {promote_version_command(version)}",
        ]
    return "\n".join(lines)
