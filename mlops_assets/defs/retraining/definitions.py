"""The retraining slice: drift_retraining_sensor, which starts retraining_job when drift or a
performance drop is real, and the run history it judges (runs.py)."""

import dagster as dg

from mlops_assets.defs.retraining.jobs import retraining_job
from mlops_assets.defs.retraining.sensors import drift_retraining_sensor
from mlops_assets.settings import Settings


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(jobs=[retraining_job], sensors=[drift_retraining_sensor])
