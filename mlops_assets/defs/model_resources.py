"""A model's resources as an asset body reads them: typed, under the model's own keys.

Each model binds its sources and its MLflow registry under its own resource keys
(`ModelNames.resource`: `car_loan__data_source`), because Dagster refuses two different
resources under one key in one job. A function parameter would fix the key to the parameter's
name, so an asset built per model declares its keys (`required_resource_keys`) and reads them
here, the model found from the asset's own key (`ModelNames.of`). What the deployment shares
(storage, the IO managers) keeps one key for every model.
"""

from typing import TYPE_CHECKING, cast

import dagster as dg

from mlops_assets.asset_keys import ModelNames

if TYPE_CHECKING:
    from mlops_assets.defs.champion.registry import PromotionGate
    from mlops_assets.resources.data_source import (
        LabelsDataSource,
        ScoringDataSource,
        TrainingDataSource,
    )
    from mlops_assets.resources.io_managers import ParquetIOManager
    from mlops_assets.resources.mlflow_registry import MlflowRegistry
    from mlops_assets.resources.project import ProjectStorage
    from mlops_assets.settings import Settings

PER_MODEL = (
    "data_source",
    "scoring_source",
    "labels_source",
    "mlflow_registry",
    "retraining_settings",
    "promotion_gate",
)
"""The resources each model binds under its own keys: what its settings configure."""
SHARED = ("storage", "parquet_io_manager", "io_manager", "alert_webhook")
"""The deployment's resources, one key for every model."""


def resource_keys(names: ModelNames, *resources: str) -> set[str]:
    """The resource keys of an asset of the model `names` that reads `resources`."""
    unknown = set(resources) - {*PER_MODEL, *SHARED}
    if unknown:
        raise ValueError(f"unknown resources {sorted(unknown)}: not in {PER_MODEL + SHARED}")
    return {names.resource(r) if r in PER_MODEL else r for r in resources}


def model_of(context: dg.AssetExecutionContext) -> ModelNames:
    """The model that owns the running asset (or multi-asset: its keys share one model)."""
    return ModelNames.of(next(iter(context.assets_def.keys)))


class ModelResources:
    """The resources of the model that owns the running asset (or of `names`: an op, which
    has no asset key to tell its model)."""

    def __init__(
        self,
        context: dg.AssetExecutionContext | dg.OpExecutionContext,
        names: ModelNames | None = None,
    ) -> None:
        if names is None:
            assert isinstance(context, dg.AssetExecutionContext), "an op names its model"
            names = model_of(context)
        self.names = names
        self._resources = context.resources

    def _own(self, resource: str) -> object:
        return getattr(self._resources, self.names.resource(resource))

    @property
    def data_source(self) -> "TrainingDataSource":
        return cast("TrainingDataSource", self._own("data_source"))

    @property
    def scoring_source(self) -> "ScoringDataSource":
        return cast("ScoringDataSource", self._own("scoring_source"))

    @property
    def labels_source(self) -> "LabelsDataSource":
        return cast("LabelsDataSource", self._own("labels_source"))

    @property
    def mlflow_registry(self) -> "MlflowRegistry":
        return cast("MlflowRegistry", self._own("mlflow_registry"))

    @property
    def promotion_gate(self) -> "PromotionGate":
        return cast("PromotionGate", self._own("promotion_gate"))

    @property
    def storage(self) -> "ProjectStorage":
        return cast("ProjectStorage", self._resources.storage)

    @property
    def parquet_io_manager(self) -> "ParquetIOManager":
        return cast("ParquetIOManager", self._resources.parquet_io_manager)


def declared_model_resources(settings: "Settings", names: ModelNames) -> dict[str, object]:
    """A declared model's own resources, under its keys, from its settings (its YAML). Plain
    values, not `EnvVar`s: the variables hold the default model's sources. Only what the
    deployment shares comes from the environment at run time (the MLflow server's URI, which
    may hold a password, and the MLflow UI's address)."""
    from mlops_assets.defs.champion.registry import PromotionGate
    from mlops_assets.defs.retraining.sensors import RetrainingSettings
    from mlops_assets.resources.data_source import (
        LabelsDataSource,
        ScoringDataSource,
        TrainingDataSource,
    )
    from mlops_assets.resources.mlflow_registry import MlflowRegistry

    s = settings
    return {
        names.resource("data_source"): TrainingDataSource(
            location=s.training_data,
            table=s.training_table,
            target_column=s.target_column,
            timestamp_column=s.timestamp_column,
            id_columns=s.id_columns,
            exclude_columns=s.exclude_columns,
        ),
        names.resource("scoring_source"): ScoringDataSource(
            location=s.scoring_data,
            table=s.scoring_table,
            date_column=s.scoring_date_column,
            label_delay_days=s.label_delay_days or 0,
            shadow_share=s.shadow_share,
        ),
        names.resource("labels_source"): LabelsDataSource(
            location=s.labels_data,
            table=s.labels_table,
            date_column=s.labels_date_column,
            # Its YAML's serve.log_dir: where its own service logs (none when unset; the
            # default model's $MLOPS_HOME/requests is that model's service's).
            request_log=s.serve_log_dir,
        ),
        names.resource("mlflow_registry"): MlflowRegistry(
            tracking_uri=dg.EnvVar("MLFLOW_TRACKING_URI") if s.tracking_uri else "",
            model_name=s.model_name,
            ui_url=dg.EnvVar("MLOPS_MLFLOW_UI_URL") if s.mlflow_ui_url else "http://127.0.0.1:5000",
            experiment_name=names.experiment,
        ),
        names.resource("retraining_settings"): RetrainingSettings.of(s.retraining),
        names.resource("promotion_gate"): PromotionGate.of(s.gate),
    }
