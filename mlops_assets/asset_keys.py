"""Every asset's key, defined once: assets, checks, jobs, sensors and tools import them here.

A key spelt again elsewhere (`dg.AssetKey("drift_report")`) would drift from its asset the day
one is renamed, and the sensor watching it would go quiet without an error. The `*_ASSET` names
are the same keys as strings, for job selections and run results that take a name.
"""

import dagster as dg

# Training: raw -> validated -> trained -> evaluated -> registered.
RAW_DATA = dg.AssetKey("raw_data")
VALIDATED_DATA = dg.AssetKey("validated_data")
TRAINED_MODEL = dg.AssetKey("trained_model")
EVALUATION_REPORT = dg.AssetKey("evaluation_report")
REGISTERED_MODEL_VERSION = dg.AssetKey("registered_model_version")

# Daily monitoring, one partition a day.
SCORING_DATA = dg.AssetKey("scoring_data")
BATCH_PREDICTIONS = dg.AssetKey("batch_predictions")
DRIFT_REPORT = dg.AssetKey("drift_report")
ESTIMATED_PERFORMANCE = dg.AssetKey("estimated_performance")
LABELS = dg.AssetKey("labels")
"""The day's delivered labels (id columns + target), replaced by a redelivery."""
REALIZED_PERFORMANCE = dg.AssetKey("realized_performance")

LABELS_ASSET = LABELS.to_user_string()
REALIZED_PERFORMANCE_ASSET = REALIZED_PERFORMANCE.to_user_string()
ESTIMATED_PERFORMANCE_ASSET = ESTIMATED_PERFORMANCE.to_user_string()

DAILY = (
    SCORING_DATA,
    BATCH_PREDICTIONS,
    DRIFT_REPORT,
    ESTIMATED_PERFORMANCE,
    LABELS,
    REALIZED_PERFORMANCE,
)
"""The daily monitoring assets, in the order a day runs them (each after what it reads)."""
