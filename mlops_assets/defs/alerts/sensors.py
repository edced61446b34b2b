"""Alert sensors: critical drift, promotions, rejected challengers, rollbacks and failed runs,
posted to MLOPS_ALERT_WEBHOOK_URL, one message per incident.

Sensors rather than calls inside the assets: a slow or broken webhook never fails or delays a
run, and the cursor remembers what was sent, so a daemon restart or a re-tick sends nothing
twice; a failed delivery of a drift or registry incident is retried on the next tick. (For a
failed run or a rollback, Dagster's run-status sensors report a failed delivery on the tick and
in the run's log, and do not retry it.) Running from the start when the webhook URL is set
(`Settings.alerts_on`).

Each model has its own monitoring_alerts_sensor (`car_loan__monitoring_alerts_sensor`), reading
only its drift reports and registrations, and rollback_alert_sensor
(`car_loan__rollback_alert_sensor`), watching its rollback job, their alerts' titles naming it;
a failed run is posted by one sensor for the whole code location (the job's name says whose it
was).
"""

import json
from datetime import date
from typing import Any

import dagster as dg

from mlops_assets.asset_keys import DEFAULT, ModelNames
from mlops_assets.defs.champion.jobs import rollback_job
from mlops_assets.domain.alerts import Alert, DriftEpisodes, drift_incidents
from mlops_assets.domain.verdicts import DriftVerdict, Severity
from mlops_assets.resources.alerts import AlertDeliveryError, AlertWebhook
from mlops_assets.settings import Settings

# Materialisations read per asset and tick: bounded, the rest on the next tick.
_PAGE = 200
_OFF = "MLOPS_ALERT_WEBHOOK_URL is not set: alerts are off"


def _alerts_status(settings: Settings) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if settings.alerts_on else dg.DefaultSensorStatus.STOPPED


def _titled(names: ModelNames, alert: Alert) -> Alert:
    """A declared model's alert says whose it is; the default model's reads as it always has."""
    if names == DEFAULT:
        return alert
    return Alert(alert.kind, f"{names.model}: {alert.title}", alert.reason, alert.link)


def _new_records(instance: dg.DagsterInstance, key: dg.AssetKey, after: int | None):
    return instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=_PAGE, ascending=True
    ).records


def _drift_alert(verdict: DriftVerdict, link: str) -> Alert:
    if verdict.severity == Severity.CRITICAL:
        title = f"Critical drift from {verdict.day} (model v{verdict.model_version})"
        reason = "; ".join(filter(None, (verdict.what_drifted, verdict.performance.reason)))
    else:
        title = f"Performance dropped on {verdict.day} (model v{verdict.model_version})"
        reason = verdict.performance.reason
    return Alert("critical_drift", title, reason, link)


def _registry_alert(metadata: dict[str, Any], link: str) -> Alert:
    version = metadata.get("model_version")
    decision = str(metadata.get("decision", ""))
    reasons = "; ".join(line[2:] for line in decision.splitlines() if line.startswith("- "))
    if metadata.get("promoted"):
        return Alert("promotion", f"Model v{version} promoted to champion", reasons, link)
    champion = metadata.get("champion_version", "none")
    if metadata.get("gate_outcome") == "challenger":
        title = f"Candidate v{version} is the challenger (champion stays v{champion})"
    else:
        title = f"Candidate v{version} rejected, no alias (champion stays v{champion})"
    return Alert("rejection", title, reasons, link)


def monitoring_alerts_sensor(settings: Settings, names: ModelNames) -> dg.SensorDefinition:
    """The model's drift and registry alerts (`car_loan__monitoring_alerts_sensor`)."""

    @dg.sensor(
        name=names.job("monitoring_alerts_sensor"),
        minimum_interval_seconds=30,
        default_status=_alerts_status(settings),
        description=(
            "Posts to MLOPS_ALERT_WEBHOOK_URL when a drift episode turns critical (or "
            "performance drops), once per episode of consecutive days, and when a candidate is "
            "promoted or rejected."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext, alert_webhook: AlertWebhook) -> dg.SkipReason:
        return _post_incidents(context, alert_webhook, names)

    return _sensor


def _post_incidents(
    context: dg.SensorEvaluationContext, alert_webhook: AlertWebhook, names: ModelNames
) -> dg.SkipReason:
    if not alert_webhook.enabled:
        return dg.SkipReason(_OFF)
    state = json.loads(context.cursor) if context.cursor else {}
    episodes = DriftEpisodes.from_json(state.get("episodes"))
    sent = 0
    try:
        for record in _new_records(context.instance, names.drift_report, state.get("drift_after")):
            event = record.asset_materialization
            if event is not None and event.partition:
                verdict = DriftVerdict.from_metadata(
                    date.fromisoformat(event.partition), event.metadata
                )
                alarming = verdict.severity == Severity.CRITICAL or verdict.performance.dropped
                opened, after = drift_incidents(episodes, [(verdict.day, alarming)])
                if opened:
                    alert = _drift_alert(verdict, alert_webhook.run_url(record.run_id))
                    alert_webhook.post(_titled(names, alert))
                    sent += 1
                episodes = after
            state["drift_after"] = record.storage_id
            state["episodes"] = episodes.to_json()
        registered = names.registered_model_version
        for record in _new_records(context.instance, registered, state.get("registry_after")):
            event = record.asset_materialization
            if event is not None:
                metadata = {k: getattr(v, "value", v) for k, v in event.metadata.items()}
                alert = _registry_alert(metadata, alert_webhook.run_url(record.run_id))
                alert_webhook.post(_titled(names, alert))
                sent += 1
            state["registry_after"] = record.storage_id
    except AlertDeliveryError as error:
        context.update_cursor(json.dumps(state))
        return dg.SkipReason(f"{error}; sent {sent}, the rest is retried on the next tick")
    context.update_cursor(json.dumps(state))
    return dg.SkipReason(f"sent {sent} alert(s)" if sent else "no new incident")


def run_failure_alert_sensor(settings: Settings) -> dg.SensorDefinition:
    """One for the code location: every model's failed runs (the job's name is the model's)."""
    return dg.run_failure_sensor(
        name="run_failure_alert_sensor",
        default_status=_alerts_status(settings),
        description="Posts every failed run of this code location to MLOPS_ALERT_WEBHOOK_URL.",
    )(_post_failure)


def _post_failure(
    context: dg.RunFailureSensorContext, alert_webhook: AlertWebhook
) -> dg.SkipReason | None:
    if not alert_webhook.enabled:
        return dg.SkipReason(_OFF)
    run = context.dagster_run
    partition = run.tags.get("dagster/partition")
    title = f"{run.job_name} failed" + (f" for {partition}" if partition else "")
    message = context.failure_event.message or "the run failed"
    alert_webhook.post(
        Alert("run_failure", title, message[:1000], alert_webhook.run_url(run.run_id))
    )
    return None


def rollback_alert_sensor(settings: Settings, names: ModelNames) -> dg.SensorDefinition:
    """The model's rollbacks: its rollback_champion_job's successful runs
    (`car_loan__rollback_alert_sensor` watches `car_loan__rollback_champion_job`)."""

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[rollback_job(names)],
        name=names.job("rollback_alert_sensor"),
        default_status=_alerts_status(settings),
        description=(
            "Posts every rollback of the model's `champion` to MLOPS_ALERT_WEBHOOK_URL, with its "
            "reason."
        ),
    )
    def _sensor(
        context: dg.RunStatusSensorContext, alert_webhook: AlertWebhook
    ) -> dg.SkipReason | None:
        return _post_rollback(context, alert_webhook, names)

    return _sensor


def _post_rollback(
    context: dg.RunStatusSensorContext, alert_webhook: AlertWebhook, names: ModelNames
) -> dg.SkipReason | None:
    if not alert_webhook.enabled:
        return dg.SkipReason(_OFF)
    run = context.dagster_run
    moved: dict[str, Any] = {}
    for entry in context.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_OUTPUT):
        output = entry.dagster_event.event_specific_data if entry.dagster_event else None
        moved.update(
            {k: getattr(v, "value", v) for k, v in getattr(output, "metadata", {}).items()}
        )
    title = (
        f"Champion rolled back: v{moved.get('from_version', '?')} -> "
        f"v{moved.get('to_version', '?')}"
    )
    reason = str(moved.get("reason", "")) or "no reason recorded"
    requested_by = moved.get("requested_by")
    if requested_by:
        reason += f" (requested by {requested_by})"
    alert = Alert("rollback", title, reason, alert_webhook.run_url(run.run_id))
    alert_webhook.post(_titled(names, alert))
    return None
