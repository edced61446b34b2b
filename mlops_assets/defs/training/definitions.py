"""The training slice: raw data -> validated -> trained model -> evaluation, and training_job,
built for one model under its names (asset_keys.ModelNames)."""

import functools

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.defs.common import mlflow_retry_policy
from mlops_assets.defs.training.evaluation import evaluation_report_asset
from mlops_assets.defs.training.ingestion import raw_data_asset
from mlops_assets.defs.training.jobs import training_job
from mlops_assets.defs.training.training import trained_model_asset
from mlops_assets.defs.training.validation import validated_data_asset
from mlops_assets.settings import Settings


@functools.cache
def assets(settings: Settings, names: ModelNames) -> tuple[dg.AssetsDefinition, ...]:
    """The model's training assets; built once per model and settings (the code location and
    its tests ask for the default model's more than once)."""
    retry = mlflow_retry_policy(settings)
    return (
        raw_data_asset(names),
        validated_data_asset(names),
        trained_model_asset(names, retry),
        evaluation_report_asset(names, retry),
    )


def build(settings: Settings, names: ModelNames) -> dg.Definitions:
    return dg.Definitions(assets=assets(settings, names), jobs=[training_job(names)])
