"""labels_arrival_sensor: judge a day's predictions when its labels arrive, or are corrected.

Labels are delivered outside Dagster (a file dropped in a directory, rows in a table), so no
materialisation event announces them and an AutomationCondition has nothing to react to; a
sensor looks at the source itself. Each tick fingerprints every daily file (name, size and
mtime) or, for SQL, the newest `LOOKBACK_DAYS` scored days (a hash of the day's rows) and requests
labels_job for each day whose fingerprint is new, with the fingerprint in the run key: a
corrected file runs again, an unchanged one never does. A delivery for a day not scored yet is
skipped with the reason, and picked up on a later tick once batch_predictions holds that day.
"""

import json
from datetime import date

import dagster as dg

from mlops_assets.asset_keys import BATCH_PREDICTIONS
from mlops_assets.contracts import LABELS_SENSOR
from mlops_assets.defs.monitoring.jobs import labels_job
from mlops_assets.defs.retraining.sensors import sensor_status
from mlops_assets.resources.data_source import LabelsDataSource
from mlops_assets.settings import Settings

LOOKBACK_DAYS = 60


def labels_arrival_sensor(settings: Settings) -> dg.SensorDefinition:
    """Evaluated as often as the drift sensor, and running from the start when it is
    (`Settings.sensor_interval_seconds`, `Settings.drift_sensor_on`)."""
    return dg.sensor(
        job=labels_job,
        name=LABELS_SENSOR,
        minimum_interval_seconds=settings.sensor_interval_seconds,
        default_status=sensor_status(settings.drift_sensor_on),
        description=(
            "Starts labels_job for each day whose label delivery in MLOPS_LABELS_DATA is new or "
            "changed and whose predictions are stored; idle when labels come with the features."
        ),
    )(_request_new_deliveries)


def _request_new_deliveries(
    context: dg.SensorEvaluationContext, labels_source: LabelsDataSource
) -> dg.SensorResult | dg.SkipReason:
    if labels_source.with_features:
        return dg.SkipReason("labels come with the features (MLOPS_LABELS_DATA unset)")
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    scored = set(context.instance.get_materialized_partitions(BATCH_PREDICTIONS))
    # A directory is listed whole (no file is read); a SQL source is queried for the newest
    # scored days only, which bounds the tick.
    newest = sorted(scored)[-LOOKBACK_DAYS:]
    delivered = labels_source.fingerprints([date.fromisoformat(key) for key in newest])
    requests, waiting = [], []
    for day, fingerprint in sorted(delivered.items()):
        key = day.isoformat()
        if seen.get(key) == fingerprint:
            continue
        if key not in scored:
            waiting.append(key)
            continue
        seen[key] = fingerprint
        requests.append(
            dg.RunRequest(
                run_key=f"labels-{key}-{fingerprint}",
                partition_key=key,
                tags={"mlops/labels_fingerprint": fingerprint},
            )
        )
    note = f"labels delivered for unscored days {', '.join(waiting)}: waiting for scoring"
    if not requests:
        return dg.SkipReason(note if waiting else "no new or changed label delivery")
    if waiting:
        context.log.info(note)
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))
