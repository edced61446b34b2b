"""Daily monitoring: scoring_data -> batch_predictions -> drift_report, one partition per day.

Every prediction row names the model version that made it and the hash of the data that version
was trained on, so prediction -> model version -> training data can be followed. One module
per asset; the stored files belong to the Parquet IO manager, which hands each asset its
upstream partition as an input.
"""

from mlops_assets.assets.monitoring.estimates import estimated_performance
from mlops_assets.assets.monitoring.partitions import daily_partitions
from mlops_assets.assets.monitoring.predictions import batch_predictions
from mlops_assets.assets.monitoring.reports import drift_report
from mlops_assets.assets.monitoring.scoring import scoring_data

__all__ = [
    "batch_predictions",
    "daily_partitions",
    "drift_report",
    "estimated_performance",
    "scoring_data",
]
