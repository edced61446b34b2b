"""The champion slice: a trained model registered as an MLflow version, the gate that decides
which alias it takes (`champion`, `challenger` or none), and the jobs that move the aliases by
hand (promote, set or retire the challenger, roll back), built per model."""

import functools

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.defs.champion.jobs import promote_job, rollback_job
from mlops_assets.defs.champion.registry import registered_model_version_asset
from mlops_assets.settings import Settings


@functools.cache
def assets(names: ModelNames) -> tuple[dg.AssetsDefinition, ...]:
    """The model's champion assets; built once per model."""
    return (registered_model_version_asset(names),)


def build(settings: Settings, names: ModelNames) -> dg.Definitions:
    return dg.Definitions(assets=assets(names), jobs=[rollback_job(names), promote_job(names)])
