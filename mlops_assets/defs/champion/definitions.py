"""The champion slice: a trained model registered as an MLflow version, the gate that decides
whether it becomes `champion`, and the jobs that move the alias by hand (promote, roll back)."""

import dagster as dg

from mlops_assets.defs.champion.jobs import promote_version_job, rollback_champion_job
from mlops_assets.defs.champion.registry import registered_model_version
from mlops_assets.settings import Settings

ASSETS = (registered_model_version,)


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=ASSETS, jobs=[rollback_champion_job, promote_version_job])
