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
from typing import cast

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.contracts import LABELS_SENSOR
from mlops_assets.resources.data_source import LabelsDataSource

LOOKBACK_DAYS = 60


def labels_arrival_sensor(
    names: ModelNames,
    job: "dg.UnresolvedAssetJobDefinition",
    default_status: dg.DefaultSensorStatus,
    interval_seconds: int,
) -> dg.SensorDefinition:
    """The model's sensor, reading its own labels source (its resource key) and starting its
    own labels_job (`job`), evaluated every `interval_seconds`."""
    source_key = names.resource("labels_source")

    @dg.sensor(
        job=job,
        name=names.job(LABELS_SENSOR),
        minimum_interval_seconds=interval_seconds,
        default_status=default_status,
        required_resource_keys={source_key},
        description=(
            "Starts labels_job for each day whose label delivery in the labels source "
            "(MLOPS_LABELS_DATA, a declared model's `labels`) is new or changed and whose "
            "predictions are stored; idle when labels come with the features."
        ),
    )
    def labels_arrival(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        source = cast(LabelsDataSource, getattr(context.resources, source_key))
        return _new_deliveries(context, source, names.batch_predictions)

    return labels_arrival


def _new_deliveries(
    context: dg.SensorEvaluationContext,
    labels_source: LabelsDataSource,
    batch_predictions: dg.AssetKey,
) -> dg.SensorResult | dg.SkipReason:
    if labels_source.with_features:
        return dg.SkipReason("labels come with the features (no labels source set)")
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    scored = set(context.instance.get_materialized_partitions(batch_predictions))
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
