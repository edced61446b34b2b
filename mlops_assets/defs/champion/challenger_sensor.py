"""<model>__challenger_sensor: acts on the challenger test's latest verdict.

Each tick reads the verdict of the latest day of the model's challenger_comparison that has one
and, through the promotion service (domain/promotion/verdicts.py: lock, compare-and-set, audit
trail), promotes a challenger proven better or retires one proven worse or undecided at the
horizon; each move is posted to MLOPS_ALERT_WEBHOOK_URL. Acting in the tick rather than in a
run: the move is one compare-and-set on two aliases, and a verdict already acted on finds the
roles moved and does nothing, so a re-tick is harmless.
"""

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.defs.monitoring.comparison import latest_verdict
from mlops_assets.defs.retraining.sensors import sensor_status
from mlops_assets.settings import Settings

CHALLENGER_SENSOR = "challenger_sensor"


def challenger_sensor(settings: Settings, names: ModelNames) -> dg.SensorDefinition:
    """The model's challenger sensor (`car_loan__challenger_sensor`), running from the start
    when its drift sensor does (MLOPS_DRIFT_SENSOR, a declared model's `drift_sensor`)."""
    registry_key, storage_key = names.resource("mlflow_registry"), "storage"

    @dg.sensor(
        name=names.job(CHALLENGER_SENSOR),
        minimum_interval_seconds=settings.sensor_interval_seconds,
        default_status=sensor_status(settings.drift_sensor_on),
        required_resource_keys={registry_key, storage_key, "alert_webhook"},
        description=(
            "Acts on challenger_comparison's latest verdict: promotes a challenger proven "
            "better on live labelled rows, retires one proven worse or undecided at the "
            "horizon (audit trail on both versions), and posts the move to "
            "MLOPS_ALERT_WEBHOOK_URL."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        from mlops_assets.domain.alerts import Alert
        from mlops_assets.domain.promotion.verdicts import act_on_verdict
        from mlops_assets.resources.alerts import AlertDeliveryError

        found = latest_verdict(context.instance, names.challenger_comparison)
        if found is None:
            return dg.SkipReason("no challenger verdict yet")
        verdict, champion, challenger, since = found
        if verdict.decision == "keep_collecting":
            return dg.SkipReason(
                f"v{challenger} against v{champion}: keep collecting after {verdict.rows} "
                f"labelled rows (effect {verdict.effect:+.4f} "
                f"[{verdict.low:+.4f}, {verdict.high:+.4f}])"
            )
        acted = f"{champion}/{challenger}/{since}/{verdict.day}"
        if context.cursor == acted:
            return dg.SkipReason(f"{verdict.day}'s verdict on v{challenger} was acted on already")
        registry = getattr(context.resources, registry_key)
        storage = getattr(context.resources, storage_key)
        move = act_on_verdict(registry, storage.lock, verdict, champion, challenger, since)
        if move is None:
            return dg.SkipReason(
                f"{verdict.day}'s verdict ({verdict.decision}) judged v{challenger} against "
                f"v{champion}; the roles have moved since: nothing to do"
            )
        context.update_cursor(acted)
        context.log.info(move.sentence())
        webhook = context.resources.alert_webhook
        if webhook.enabled:
            promoted = verdict.decision == "promote"
            title = (
                f"Challenger v{challenger} promoted to champion over v{champion}"
                if promoted
                else f"Challenger v{challenger} retired (champion stays v{champion})"
            )
            # A declared model's alert says whose it is, as its other alerts do.
            title = f"{names.model}: {title}" if names.model else title
            alert = Alert(
                "promotion" if promoted else "rejection",
                title,
                f"{move.reason}; {move.evidence}",
                registry.version_url(challenger),
            )
            try:
                webhook.post(alert)
            except AlertDeliveryError as error:
                context.log.warning(f"the alert was not delivered: {error}")
        return dg.SkipReason(move.sentence())

    return _sensor
