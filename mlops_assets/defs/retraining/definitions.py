"""The retraining slice: a model's drift_retraining_sensor, which starts its retraining_job
when drift or a performance drop is real, and the run history it judges (runs.py), built for
one model under its names (asset_keys.ModelNames). The sensor reads its model's policy from
the resource under the model's key (`car_loan__retraining_settings`, made from its settings
by definitions.py or defs/model_resources.py)."""

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.defs.retraining.jobs import retraining_job
from mlops_assets.defs.retraining.sensors import drift_retraining_sensor
from mlops_assets.settings import Settings


def build(settings: Settings, names: ModelNames) -> dg.Definitions:
    return dg.Definitions(
        jobs=[retraining_job(names)], sensors=[drift_retraining_sensor(settings, names)]
    )
