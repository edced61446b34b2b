"""training_job: what a person launches to train, evaluate and register a model."""

from __future__ import annotations

import dagster as dg

from mlops_assets.asset_keys import DEFAULT, ModelNames
from mlops_assets.contracts import CHAMPION_GATE_RUN_TAG

TRAINING_ASSETS = tuple(key.to_user_string() for key in DEFAULT.training)
"""The default model's training assets by name, for job selections that take names."""


def training_job(names: ModelNames) -> dg.UnresolvedAssetJobDefinition:
    """The model's training_job (`car_loan__training_job` for a model named car_loan)."""
    return dg.define_asset_job(
        names.job("training_job"),
        selection=dg.AssetSelection.assets(*names.training),
        description=(
            "Snapshot, validate, train, evaluate and register a model; promotion to `champion` "
            "only through the gate."
        ),
        tags={"mlops/purpose": "training", **CHAMPION_GATE_RUN_TAG},
    )
