"""training_job: what a person launches to train, evaluate and register a model."""

import dagster as dg

from mlops_assets.contracts import CHAMPION_GATE_RUN_TAG

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
