"""The champion slice: a trained model registered as an MLflow version, the gate that decides
which alias it takes (`champion`, `challenger` or none), and the jobs that move the aliases by
hand (promote, set or retire the challenger, roll back) and the sensor that moves them on the
challenger test's verdict, built per model."""

import functools

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.defs.champion.challenger_sensor import challenger_sensor
from mlops_assets.defs.champion.jobs import promote_job, rollback_job
from mlops_assets.defs.champion.registry import registered_model_version_asset
from mlops_assets.defs.common import mlflow_retry_policy
from mlops_assets.settings import Settings


@functools.cache
def assets(settings: Settings, names: ModelNames) -> tuple[dg.AssetsDefinition, ...]:
    """The model's champion assets; built once per model and settings."""
    return (
        registered_model_version_asset(
            names, mlflow_retry_policy(settings), settings.shadow_former_champion
        ),
    )


def build(settings: Settings, names: ModelNames) -> dg.Definitions:
    return dg.Definitions(
        assets=assets(settings, names),
        jobs=[rollback_job(names), promote_job(names, settings.shadow_former_champion)],
        sensors=[challenger_sensor(settings, names)],
    )
