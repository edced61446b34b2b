"""The monitoring jobs: a day (or a range of days) scored, a day's evidently report drawn, a
day's labels judged."""

from __future__ import annotations

import dagster as dg

from mlops_assets.asset_keys import LABELS_ASSET, REALIZED_PERFORMANCE_ASSET
from mlops_assets.contracts import EVIDENTLY_REPORT_JOB, LABELS_JOB
from mlops_assets.settings import Settings

DAILY_MONITORING_JOB = "daily_monitoring_job"
LABEL_ASSETS = (LABELS_ASSET, REALIZED_PERFORMANCE_ASSET)


def monitoring_assets(settings: Settings) -> tuple[str, ...]:
    """What a monitoring day materialises. Labels that come with the features are known the
    moment the day is scored, so the daily run stores and judges them too; labels delivered
    later have their own job, which labels_arrival_sensor starts when a delivery appears or
    changes."""
    return (
        "scoring_data",
        "batch_predictions",
        "drift_report",
        "estimated_performance",
        *(LABEL_ASSETS if settings.labels_with_features else ()),
    )


def daily_monitoring_job(settings: Settings) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        DAILY_MONITORING_JOB,
        selection=dg.AssetSelection.assets(*monitoring_assets(settings)),
        description=(
            "Score days with the champion, measure drift and estimate performance: one day from "
            "the schedule, or a range of days in one run (a backfill; each day its own "
            "partition)."
        ),
        tags={"mlops/purpose": "monitoring"},
    )


# A clean day's drift_report draws no evidently report (reports.py); this job re-runs a chosen
# day's drift_report with it drawn. The verdict it records is the same.
evidently_report_job = dg.define_asset_job(
    EVIDENTLY_REPORT_JOB,
    selection=dg.AssetSelection.assets("drift_report"),
    config={"ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": True}}}}},
    description=(
        "drift_report for one day with evidently's HTML report drawn, linked from its MLflow "
        "run, whatever the day's severity (unasked, it is drawn on warning and critical days)."
    ),
    tags={"mlops/purpose": "monitoring"},
)

labels_job = dg.define_asset_job(
    LABELS_JOB,
    selection=dg.AssetSelection.assets(*LABEL_ASSETS),
    description=(
        "Store a day's (re)delivered labels and judge its predictions on them (one partition "
        "per run). Started by labels_arrival_sensor, or by hand."
    ),
    tags={"mlops/purpose": "labels"},
)
