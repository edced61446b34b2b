"""Daily monitoring: scoring_data -> batch_predictions -> drift_report, estimated_performance,
labels -> realized_performance, one partition per day.

Every prediction row names the model version that made it and the hash of the data that version
was trained on, so prediction -> model version -> training data can be followed. One module
per asset, each declaring a typed step (steps.py: its function's signature says what it reads);
daily.py runs them for a range of days per run, and the Parquet IO manager owns the stored files.
definitions.py builds them for a model (`build(settings, names)`), partitioned from its
settings' first scoring day (`scoring_partitions`).
"""

from mlops_assets.defs.monitoring.daily import DAY_FUNCTIONS
from mlops_assets.defs.monitoring.partitions import scoring_partitions

__all__ = ["DAY_FUNCTIONS", "scoring_partitions"]
