"""Metrics, slices, plots, the model card and the champion-versus-challenger comparison.

Pure functions over arrays and frames. scikit-learn and matplotlib are imported inside the
functions that need them: this package is loaded with the code location, and also serves
`markdown_table` to assets that never compute a metric.

The modules: `metrics` (predictions, metrics, per-row losses, slices), `comparison` (the paired
bootstrap of champion against challenger), `plots`, `markdown` (tables) and `model_card`.
"""

from mlops_assets.domain.evaluation.comparison import (
    PairedComparison,
    compare_on_slices,
    paired_bootstrap,
)
from mlops_assets.domain.evaluation.markdown import MISSING_CELL, markdown_table, significant
from mlops_assets.domain.evaluation.metrics import (
    LOSSES,
    MISSING_SLICE,
    PRIMARY_LOSS,
    Predictions,
    compute_metrics,
    per_row_loss,
    slice_metrics,
)
from mlops_assets.domain.evaluation.model_card import model_card_markdown
from mlops_assets.domain.evaluation.plots import (
    calibration_png,
    confusion_matrix_png,
    residuals_png,
)

__all__ = [
    "LOSSES",
    "MISSING_CELL",
    "MISSING_SLICE",
    "PRIMARY_LOSS",
    "PairedComparison",
    "Predictions",
    "calibration_png",
    "compare_on_slices",
    "compute_metrics",
    "confusion_matrix_png",
    "markdown_table",
    "model_card_markdown",
    "paired_bootstrap",
    "per_row_loss",
    "residuals_png",
    "significant",
    "slice_metrics",
]
