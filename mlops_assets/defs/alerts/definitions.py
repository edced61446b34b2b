"""The alerts slice: critical drift, promotions, rejections, rollbacks and failed runs posted
to MLOPS_ALERT_WEBHOOK_URL."""

import dagster as dg

from mlops_assets.defs.alerts.sensors import (
    monitoring_alerts_sensor,
    rollback_alert_sensor,
    run_failure_alert_sensor,
)
from mlops_assets.settings import Settings


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        sensors=[monitoring_alerts_sensor, run_failure_alert_sensor, rollback_alert_sensor]
    )
