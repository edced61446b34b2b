"""The alerts slice: critical drift, promotions, rejections, rollbacks and failed runs posted
to MLOPS_ALERT_WEBHOOK_URL, built for one model under its names (asset_keys.ModelNames).

Each model gets its drift, registry and rollback alerts; the failed-run alert watches every job
of the code location, so it is built once, with the default model."""

import dagster as dg

from mlops_assets.asset_keys import DEFAULT, ModelNames
from mlops_assets.defs.alerts.sensors import (
    monitoring_alerts_sensor,
    rollback_alert_sensor,
    run_failure_alert_sensor,
)
from mlops_assets.settings import Settings


def build(settings: Settings, names: ModelNames) -> dg.Definitions:
    sensors: list[dg.SensorDefinition] = [
        monitoring_alerts_sensor(settings, names),
        rollback_alert_sensor(settings, names),
    ]
    if names == DEFAULT:
        sensors.append(run_failure_alert_sensor(settings))
    return dg.Definitions(sensors=sensors)
