"""retraining_job: what a model's drift_retraining_sensor starts."""

from __future__ import annotations

import functools

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.contracts import CHAMPION_GATE_RUN_TAG, RETRAINING_JOB


@functools.cache
def retraining_job(names: ModelNames) -> dg.UnresolvedAssetJobDefinition:
    """The model's retraining_job (`car_loan__retraining_job` for a model named car_loan): the
    same five assets and the same gate as its training_job; the sensor points raw_data at a
    window of labelled scoring partitions through run config. The tag lets the run queue allow
    one at a time. Built once per model: its sensor targets the same definition the slice
    holds."""
    sensor = names.job("drift_retraining_sensor")
    return dg.define_asset_job(
        names.job(RETRAINING_JOB),
        selection=dg.AssetSelection.assets(*names.training),
        description=(
            "Retrain on recent labelled scoring data (run config: raw_data window), then the "
            f"same validation, evaluation and promotion gate as training_job. Started by "
            f"{sensor}, or by hand."
        ),
        tags={"mlops/purpose": "retraining", **CHAMPION_GATE_RUN_TAG},
    )


def raw_data_op(names: ModelNames) -> str:
    """The op of the model's raw_data, which a retraining's run config configures (Dagster
    names an asset's op after its key: `car_loan__raw_data`)."""
    return names.raw_data.to_python_identifier()


def evaluation_report_op(names: ModelNames) -> str:
    """The op of the model's evaluation_report, whose `refit_on_window` a retraining's run
    config sets from the model's retraining policy."""
    return names.evaluation_report.to_python_identifier()
