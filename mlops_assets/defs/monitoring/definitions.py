"""The monitoring slice: each day scored by the champion (scoring_data, batch_predictions),
its drift report, the label-free estimate and, when labels arrive, the realized performance
and the challenger judged against the champion (challenger_comparison); the schedule that
scores yesterday and the sensor that judges a day when its labels land. Built for one model
under its names (asset_keys.ModelNames), its days from its settings."""

import functools

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.defs.common import mlflow_retry_policy
from mlops_assets.defs.monitoring.daily import daily_monitoring_asset
from mlops_assets.defs.monitoring.jobs import daily_monitoring_job, evidently_report_job, labels_job
from mlops_assets.defs.monitoring.label_sensors import labels_arrival_sensor
from mlops_assets.defs.monitoring.partitions import scoring_partitions
from mlops_assets.defs.monitoring.schedules import daily_batch_prediction_schedule
from mlops_assets.defs.retraining.sensors import sensor_status
from mlops_assets.settings import Settings


@functools.cache
def assets(settings: Settings, names: ModelNames) -> tuple[dg.AssetsDefinition, ...]:
    """The model's daily monitoring assets, partitioned from its first scoring day; built once
    per model and settings (the code location and its tests ask for them more than once)."""
    partitions = scoring_partitions(settings.scoring_start)
    return (daily_monitoring_asset(names, partitions, mlflow_retry_policy(settings)),)


def build(settings: Settings, names: ModelNames) -> dg.Definitions:
    labels = labels_job(names)
    return dg.Definitions(
        assets=assets(settings, names),
        jobs=[daily_monitoring_job(settings, names), evidently_report_job(names), labels],
        schedules=[daily_batch_prediction_schedule(settings, names)],
        # Evaluated as often as the drift sensor, and running from the start when it is
        # (MLOPS_DRIFT_SENSOR, a declared model's `drift_sensor`).
        sensors=[
            labels_arrival_sensor(
                names,
                labels,
                sensor_status(settings.drift_sensor_on),
                settings.sensor_interval_seconds,
            )
        ],
    )
