"""Jobs: what a person (or a schedule or sensor) launches."""

import dagster as dg

from mlops_assets.assets.registry import promote_version, rollback_champion
from mlops_assets.contracts import CHAMPION_GATE_RUN_TAG, RETRAINING_JOB

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

daily_monitoring_job = dg.define_asset_job(
    "daily_monitoring_job",
    selection=dg.AssetSelection.assets(
        "scoring_data", "batch_predictions", "drift_report", "estimated_performance"
    ),
    description="Score one day with the champion and measure drift (one partition per run).",
    tags={"mlops/purpose": "monitoring"},
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
