"""The challenger scored against the champion on the challenger's own test rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from mlops_assets.contracts import CHAMPION_ALIAS
from mlops_assets.domain.evaluation import Predictions
from mlops_assets.domain.promotion import (
    ChampionComparison,
    ComparisonSettings,
    compare_predictions,
    incompatible_champion,
)
from mlops_assets.domain.registry import RegistryVersion
from mlops_assets.domain.schemas import DatasetSchema, compare_schemas
from mlops_assets.domain.training import TrainedModelRef, predict_frame

if TYPE_CHECKING:
    import pandas as pd


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
    there is no champion. Raises the registry's ModelArtifactError for a tampered champion."""
    version = registry.version_by_alias(CHAMPION_ALIAS)
    if version is None:
        return None
    champion_schema = registry.training_schema(version.run_id)
    diff = compare_schemas(champion_schema, DatasetSchema.from_json(ref.schema_json))
    if not diff.compatible:
        return incompatible_champion(version.version, str(diff))
    model = registry.load_model(version.version)
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
