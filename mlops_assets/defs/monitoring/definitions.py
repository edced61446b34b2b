"""The monitoring slice: each day scored by the champion (scoring_data, batch_predictions),
its drift report, the label-free estimate and, when labels arrive, the realized performance;
the schedule that scores yesterday and the sensor that judges a day when its labels land."""

import dagster as dg

from mlops_assets.defs.monitoring.daily import daily_monitoring
from mlops_assets.defs.monitoring.jobs import daily_monitoring_job, evidently_report_job, labels_job
from mlops_assets.defs.monitoring.label_sensors import labels_arrival_sensor
from mlops_assets.defs.monitoring.schedules import daily_batch_prediction_schedule
from mlops_assets.settings import Settings

ASSETS = (daily_monitoring,)


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=ASSETS,
        jobs=[daily_monitoring_job(settings), evidently_report_job, labels_job],
        schedules=[daily_batch_prediction_schedule(settings)],
        sensors=[labels_arrival_sensor(settings)],
    )
