"""Jobs: what a person (or a schedule or sensor) launches."""

import dagster as dg

from mlops_assets.assets.monitoring import daily_partitions
from mlops_assets.assets.registry import rollback_champion

# A process per step (Dagster's default executor) would import pandas, scikit-learn and MLflow
# again in every step, about 10 s each (`make bench` measured 26 s of overhead for
# `dagster job execute -j training_job`, 14 s in process); the steps of these jobs form a chain,
# so nothing would run side by side anyway. Runs stay isolated from each other by the run
# launcher. (An executor, not run config: a job with default run config ignores the resources
# that tests pass to `execute_in_process`, with Dagster 1.13.)
EXECUTOR = dg.in_process_executor

# Every run that may move the `champion` alias carries this tag; dagster.yaml's run queue lets
# one such run go at a time (the gate's compare-and-set lock covers runs outside a queue).
CHAMPION_GATE_TAG = {"mlops/gate": "champion"}

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
    tags={"mlops/purpose": "training", **CHAMPION_GATE_TAG},
    executor_def=EXECUTOR,
)

# The same five assets and the same gate; the sensor points raw_data at a window of labelled
# scoring partitions through run config. The tag lets the run queue allow one at a time.
retraining_job = dg.define_asset_job(
    "retraining_job",
    selection=dg.AssetSelection.assets(*TRAINING_ASSETS),
    description=(
        "Retrain on recent labelled scoring data (run config: raw_data window), then the same "
        "validation, evaluation and promotion gate as training_job. Started by "
        "drift_retraining_sensor, or by hand."
    ),
    tags={"mlops/purpose": "retraining", **CHAMPION_GATE_TAG},
    executor_def=EXECUTOR,
)

daily_monitoring_job = dg.define_asset_job(
    "daily_monitoring_job",
    selection=dg.AssetSelection.assets("scoring_data", "batch_predictions", "drift_report"),
    partitions_def=daily_partitions,
    description="Score one day with the champion and measure drift (one partition per run).",
    tags={"mlops/purpose": "monitoring"},
    executor_def=EXECUTOR,
)


@dg.job(
    description="Move the `champion` alias back to the previous champion (config: reason).",
    tags={"mlops/purpose": "rollback", **CHAMPION_GATE_TAG},
    executor_def=EXECUTOR,
)
def rollback_champion_job() -> None:
    rollback_champion()
