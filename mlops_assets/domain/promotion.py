"""The champion comparison and the rules around a move of `champion`, over plain data.

evaluation_report scores the champion on the challenger's test rows (ChampionComparison); the
gate (domain.registry.decide_promotion) judges that comparison; the promotion service
(services.promotion) re-judges it when the champion moved, and picks a rollback target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from mlops_assets.contracts import CHAMPION_ALIAS, EVALUATED_AGAINST_TAG, ROLLED_BACK_AT_TAG
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
