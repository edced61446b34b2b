"""The champion scored on the challenger's own test rows, the comparison the gate judges.

evaluation_report compares the two (compare_with_champion); the gate (gate.judge) decides on
that comparison; a promotion whose champion moved since evaluation compares again with the
champion now (compare_with_current_champion), on the same test rows and settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from mlops_assets.contracts import CHAMPION_ALIAS, EVALUATED_FIT_TAG
from mlops_assets.domain.evaluation import (
    PRIMARY_LOSS,
    PairedComparison,
    Predictions,
    compare_on_slices,
    compute_metrics,
    paired_bootstrap,
    per_row_loss,
)
from mlops_assets.domain.registry import RegistryVersion
from mlops_assets.domain.schemas import DatasetSchema, TaskType, compare_schemas
from mlops_assets.domain.training import TrainedModelRef, predict_frame

if TYPE_CHECKING:
    import pandas as pd


class ComparisonSettings(BaseModel):
    """How challenger and champion are compared on the test split. evaluation_report's run
    config is this model; the gate compares again with the same settings."""

    model_config = ConfigDict(frozen=True)

    bootstrap_resamples: int = 2000
    confidence: float = Field(
        default=0.95,
        description=(
            "Confidence level of the paired bootstrap interval of the challenger's improvement."
        ),
    )
    slice_min_rows: int = Field(
        default=50,
        description="Slices with fewer test rows are not compared (too noisy to judge).",
    )


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
    refit_model_uri: str = ""
    """The same recipe refit on every labelled row of the window (training.refit_on_window),
    logged in the same MLflow run: what gets registered. Empty: no refit, the evaluated fit
    itself is registered. The gate judges the evaluated fit (`model`) on its held-out rows."""
    refit_rows: int = 0

    @property
    def registered_model_uri(self) -> str:
        """The model the registry receives: the refit when there is one."""
        return self.refit_model_uri or self.model.model_uri


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


class ChampionSource(Protocol):
    """The registry operations a champion comparison needs."""

    def version_by_alias(self, alias: str) -> RegistryVersion | None: ...

    def training_schema(self, run_id: str) -> DatasetSchema: ...

    def load_model(self, version: str) -> Any:
        """A registered version's pipeline, verified against its recorded hash."""
        ...

    def load_logged_model(self, model_uri: str) -> Any:
        """A logged (not necessarily registered) model's pipeline."""
        ...


def predictions_on(model: Any, ref: TrainedModelRef, test: pd.DataFrame) -> Predictions:
    """The model's predictions of the test rows, beside their true labels."""
    y_pred, proba, classes = predict_frame(model, test[ref.features], ref.task)
    return Predictions(test[ref.target].to_numpy(), y_pred, proba, classes)


def compare_with_champion(
    ref: TrainedModelRef,
    test: pd.DataFrame,
    challenger: Predictions,
    settings: ComparisonSettings,
    registry: ChampionSource,
) -> ChampionComparison | None:
    """The version holding `champion` now, scored on the challenger's test rows; None when
    there is no champion. Raises the registry's ModelArtifactError for a tampered champion.

    Like is compared with like: when the champion is a refit on its whole window, its own
    evaluated (split) fit stands in for it (its EVALUATED_FIT_TAG). The refit learned from
    every row of its window, and a retraining on an overlapping window tests on some of
    those rows, which would favour the champion; the evaluated fits each held out the same
    share of their windows."""
    version = registry.version_by_alias(CHAMPION_ALIAS)
    if version is None:
        return None
    champion_schema = registry.training_schema(version.run_id)
    diff = compare_schemas(champion_schema, DatasetSchema.from_json(ref.schema_json))
    if not diff.compatible:
        return incompatible_champion(version.version, str(diff))
    model = registry.load_model(version.version)  # the hash check, whichever fit is compared
    evaluated_fit = version.tags.get(EVALUATED_FIT_TAG, "")
    if evaluated_fit:
        model = registry.load_logged_model(evaluated_fit)
    y_pred, proba, classes = predict_frame(model, test[champion_schema.feature_columns], ref.task)
    return compare_predictions(
        version=version.version,
        task=ref.task,
        test=test,
        categorical_features=ref.categorical_features,
        challenger=challenger,
        champion=Predictions(challenger.y_true, y_pred, proba, classes),
        settings=settings,
        schema_detail=str(diff),
    )


def compare_with_current_champion(
    ref: TrainedModelRef, settings: ComparisonSettings, registry: ChampionSource
) -> ChampionComparison | None:
    """The challenger against whichever version holds `champion` now, on the challenger's own
    test rows and with the evaluation's settings: the gate's second look when the champion
    moved during the run."""
    import pandas as pd

    test = pd.read_parquet(ref.test_split_path)
    challenger = predictions_on(registry.load_logged_model(ref.model_uri), ref, test)
    return compare_with_champion(ref, test, challenger, settings, registry)
