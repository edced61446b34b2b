"""The champion slice: a trained model registered as an MLflow version, the gate that decides
whether it becomes `champion`, and the jobs that move the alias by hand (promote, roll back)."""

import functools

import dagster as dg

from mlops_assets.asset_keys import DEFAULT, ModelNames
from mlops_assets.defs.champion.jobs import promote_version_job, rollback_champion_job
from mlops_assets.defs.champion.registry import registered_model_version_asset
from mlops_assets.defs.common import mlflow_retry_policy
from mlops_assets.settings import Settings


@functools.cache
def assets(settings: Settings, names: ModelNames) -> tuple[dg.AssetsDefinition, ...]:
    """The model's champion assets; built once per model and settings."""
    return (registered_model_version_asset(names, mlflow_retry_policy(settings)),)


def build(settings: Settings, names: ModelNames) -> dg.Definitions:
    # The hand-moving jobs are ops reading the default model's resource keys: a declared model
    # has no rollback or manual promotion job yet (docs/models.md, Status).
    jobs = [rollback_champion_job, promote_version_job] if names == DEFAULT else []
    return dg.Definitions(assets=assets(settings, names), jobs=jobs)
