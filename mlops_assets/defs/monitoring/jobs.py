"""The monitoring jobs: a day (or a range of days) scored, a day's evidently report drawn, a
day's labels judged; each built for one model under its names (asset_keys.ModelNames)."""

from __future__ import annotations

import dagster as dg

from mlops_assets.asset_keys import (
    CHALLENGER_COMPARISON_ASSET,
    LABELS_ASSET,
    REALIZED_PERFORMANCE_ASSET,
    ModelNames,
)
from mlops_assets.contracts import EVIDENTLY_REPORT_JOB, LABELS_JOB
from mlops_assets.settings import Settings

DAILY_MONITORING_JOB = "daily_monitoring_job"
DAILY_MONITORING_OP = "daily_monitoring"
"""The daily multi-asset's op (daily.py), which run config names: `car_loan__daily_monitoring`
for a declared model (`ModelNames.job`)."""
# What a day's labels judge: the predictions, and the challenger against the champion.
LABEL_ASSETS = (LABELS_ASSET, REALIZED_PERFORMANCE_ASSET, CHALLENGER_COMPARISON_ASSET)


def monitoring_assets(settings: Settings) -> tuple[str, ...]:
    """What a monitoring day materialises, by asset name. Labels that come with the features
    are known the moment the day is scored, so the daily run stores and judges them too; labels
    delivered later have their own job, which labels_arrival_sensor starts when a delivery
    appears or changes."""
    return (
        "scoring_data",
        "batch_predictions",
        "drift_report",
        "estimated_performance",
        *(LABEL_ASSETS if settings.labels_with_features else ()),
    )


def daily_monitoring_job(settings: Settings, names: ModelNames) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        names.job(DAILY_MONITORING_JOB),
        selection=dg.AssetSelection.assets(
            *(names.key(name) for name in monitoring_assets(settings))
        ),
        description=(
            "Score days with the champion, measure drift and estimate performance: one day from "
            "the schedule, or a range of days in one run (a backfill; each day its own "
            "partition)."
        ),
        tags={"mlops/purpose": "monitoring"},
    )


def evidently_report_job(names: ModelNames) -> dg.UnresolvedAssetJobDefinition:
    """A clean day's drift_report draws no evidently report (reports.py); this job re-runs a
    chosen day's drift_report with it drawn. The verdict it records is the same."""
    op = names.job(DAILY_MONITORING_OP)
    return dg.define_asset_job(
        names.job(EVIDENTLY_REPORT_JOB),
        selection=dg.AssetSelection.assets(names.drift_report),
        config={"ops": {op: {"config": {"drift_report": {"evidently_html": True}}}}},
        description=(
            "drift_report for one day with evidently's HTML report drawn, linked from its "
            "MLflow run, whatever the day's severity (unasked, it is drawn on warning and "
            "critical days)."
        ),
        tags={"mlops/purpose": "monitoring"},
    )


def labels_job(names: ModelNames) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        names.job(LABELS_JOB),
        selection=dg.AssetSelection.assets(*(names.key(name) for name in LABEL_ASSETS)),
        description=(
            "Store a day's (re)delivered labels, judge its predictions on them and the "
            "challenger against the champion (one partition per run). Started by "
            "labels_arrival_sensor, or by hand."
        ),
        tags={"mlops/purpose": "labels"},
    )
