"""retraining_job: what drift_retraining_sensor starts."""

import dagster as dg

from mlops_assets.contracts import CHAMPION_GATE_RUN_TAG, RETRAINING_JOB
from mlops_assets.defs.training.jobs import TRAINING_ASSETS

# The same five assets and the same gate as training_job; the sensor points raw_data at a
# window of labelled scoring partitions through run config. The tag lets the run queue allow
# one at a time.
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
