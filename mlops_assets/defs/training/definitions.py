"""The training slice: raw data -> validated -> trained model -> evaluation, and training_job."""

import dagster as dg

from mlops_assets.defs.training.evaluation import evaluation_report
from mlops_assets.defs.training.ingestion import raw_data
from mlops_assets.defs.training.jobs import training_job
from mlops_assets.defs.training.training import trained_model
from mlops_assets.defs.training.validation import validated_data
from mlops_assets.settings import Settings

ASSETS = (raw_data, validated_data, trained_model, evaluation_report)


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=ASSETS, jobs=[training_job])
