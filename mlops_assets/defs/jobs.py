"""Jobs: what a person (or a schedule or sensor) launches."""

import os

import dagster as dg

from mlops_assets.contracts import (
    CHAMPION_GATE_RUN_TAG,
    EVIDENTLY_REPORT_JOB,
    LABELS_ASSET,
    LABELS_JOB,
    REALIZED_PERFORMANCE_ASSET,
    RETRAINING_JOB,
)
from mlops_assets.defs.champion.registry import promote_version, rollback_champion

TRAINING_ASSETS = (
    "raw_data",
    "validated_data",
    "trained_model",
    "evaluation_report",
    "registered_model_version",
)

training_job = dg.define_asset_job(
    "training_job",
    selection=dg.AssetSelection.assets(*TRAINING_ASSETS),
    description=(
        "Snapshot, validate, train, evaluate and register a model; promotion to `champion` "
        "only through the gate."
    ),
    tags={"mlops/purpose": "training", **CHAMPION_GATE_RUN_TAG},
)

# The same five assets and the same gate; the sensor points raw_data at a window of labelled
# scoring partitions through run config. The tag lets the run queue allow one at a time.
retraining_job = dg.define_asset_job(
    RETRAINING_JOB,
    selection=dg.AssetSelection.assets(*TRAINING_ASSETS),
    description=(
        "Retrain on recent labelled scoring data (run config: raw_data window), then the same "
        "validation, evaluation and promotion gate as training_job. Started by "
        "drift_retraining_sensor, or by hand."
    ),
    tags={"mlops/purpose": "retraining", **CHAMPION_GATE_RUN_TAG},
)

LABEL_ASSETS = (LABELS_ASSET, REALIZED_PERFORMANCE_ASSET)


def labels_with_features(environ: os._Environ[str] | dict[str, str]) -> bool:
    """Whether labels come in the scoring data (MLOPS_LABELS_DATA unset)."""
    return not environ.get("MLOPS_LABELS_DATA", "")


def monitoring_assets(environ: os._Environ[str] | dict[str, str]) -> tuple[str, ...]:
    """What a monitoring day materialises. Labels that come with the features are known the
    moment the day is scored, so the daily run stores and judges them too; labels delivered
    later have their own job, which labels_arrival_sensor starts when a delivery appears or
    changes."""
    return (
        "scoring_data",
        "batch_predictions",
        "drift_report",
        "estimated_performance",
        *(LABEL_ASSETS if labels_with_features(environ) else ()),
    )


daily_monitoring_job = dg.define_asset_job(
    "daily_monitoring_job",
    selection=dg.AssetSelection.assets(*monitoring_assets(os.environ)),
    description=(
        "Score days with the champion, measure drift and estimate performance: one day from "
        "the schedule, or a range of days in one run (a backfill; each day its own partition)."
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


@dg.job(
    description="Move the `champion` alias back to the previous champion (config: reason).",
    tags={"mlops/purpose": "rollback", **CHAMPION_GATE_RUN_TAG},
)
def rollback_champion_job() -> None:
    rollback_champion()


@dg.job(
    description=(
        "Move the `champion` alias to a given version (config: version, reason, requested_by), "
        "e.g. an honest model the gate could not compare with a leaky champion's schema."
    ),
    tags={"mlops/purpose": "promotion", **CHAMPION_GATE_RUN_TAG},
)
def promote_version_job() -> None:
    promote_version()
