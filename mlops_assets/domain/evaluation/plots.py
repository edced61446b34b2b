"""The evaluation plots as PNG files: confusion matrix, calibration, residuals. matplotlib is
imported inside the functions that draw, never through pyplot."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_assets.domain.evaluation.metrics import Predictions, require_proba, true_class_index

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_SCATTER_MAX_POINTS = 10_000
_ANNOTATE_MAX_CLASSES = 20


def confusion_matrix_png(predictions: Predictions, path: Path) -> Path:
    """Confusion matrix, counts annotated and coloured by share of the true class (recall), so
    rare classes stay readable next to frequent ones."""
    import numpy as np
    import pandas as pd

    labels = _label_order(predictions)
    k = len(labels)
    index = pd.Index(labels)
    true_index = index.get_indexer(np.asarray(predictions.y_true))
    pred_index = index.get_indexer(np.asarray(predictions.y_pred))
    counts = np.bincount(true_index * k + pred_index, minlength=k * k).reshape(k, k)
    row_share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)

    size = min(4 + 0.5 * k, 20)
    fig = _figure(size + 1, size)
    ax = fig.add_subplot()
    image = ax.imshow(row_share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="share of true class")
    names = [str(label) for label in labels]
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion matrix ({len(predictions)} rows)")
    if k <= _ANNOTATE_MAX_CLASSES:
        for i in range(k):
            for j in range(k):
                colour = "white" if row_share[i, j] > 0.5 else "black"
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", color=colour)
    return _save(fig, path)


def _label_order(predictions: Predictions) -> list[Any]:
    """The model's classes, then any label seen only in y_true or y_pred."""
    import numpy as np
    import pandas as pd

    known = list(predictions.classes or ())
    seen = pd.unique(
        np.concatenate([np.asarray(predictions.y_true), np.asarray(predictions.y_pred)])
    )
    known_set = set(known)
    extra = [label for label in seen if label not in known_set]
    # Mixed label types have no order; they keep their first-seen order.
    with contextlib.suppress(TypeError):
        extra = sorted(extra)
    return known + extra


def calibration_png(predictions: Predictions, path: Path, bins: int = 10) -> Path:
    """Reliability diagram: mean predicted probability against observed frequency per bin.

    Binary: probability of the positive (last) class against how often it is the true class.
    Multiclass: confidence in the top class against how often the top class is right.
    """
    import numpy as np

    proba, classes = require_proba(predictions, "calibration_png")
    true_index = true_class_index(predictions)
    if len(classes) == 2:
        score = proba[:, -1]
        hit = true_index == 1
        title = f"Calibration: P({classes[-1]})"
        xlabel = f"predicted probability of {classes[-1]}"
        ylabel = f"observed share of {classes[-1]}"
    else:
        top = proba.argmax(axis=1)
        score = proba[np.arange(len(top)), top]
        hit = true_index == top
        title = "Calibration: top-class confidence"
        xlabel = "confidence in the predicted class"
        ylabel = "accuracy"
    score = np.clip(score.astype(float), 0.0, 1.0)
    which = np.minimum((score * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    filled = counts > 0
    mean_score = np.bincount(which, weights=score, minlength=bins)[filled] / counts[filled]
    observed = np.bincount(which, weights=hit, minlength=bins)[filled] / counts[filled]

    fig = _figure(6, 7)
    top_ax, bottom_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top_ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    top_ax.plot(mean_score, observed, marker="o", label="model")
    top_ax.set_ylabel(ylabel)
    top_ax.set_ylim(0, 1)
    top_ax.set_title(title)
    top_ax.legend(loc="upper left")
    edges = np.linspace(0, 1, bins + 1)
    bottom_ax.bar(edges[:-1], counts, width=1 / bins, align="edge", edgecolor="white")
    bottom_ax.set_xlabel(xlabel)
    bottom_ax.set_ylabel("rows")
    bottom_ax.set_xlim(0, 1)
    return _save(fig, path)


def residuals_png(predictions: Predictions, path: Path) -> Path:
    """Residuals (true - predicted) against the prediction, and their distribution."""
    import numpy as np

    y_true = np.asarray(predictions.y_true, dtype=float)
    y_pred = np.asarray(predictions.y_pred, dtype=float)
    residual = y_true - y_pred
    shown = np.arange(len(residual))
    if len(shown) > _SCATTER_MAX_POINTS:
        # A sample keeps the file small and the plot legible; fixed seed, same picture each run.
        shown = np.sort(
            np.random.default_rng(0).choice(len(shown), _SCATTER_MAX_POINTS, replace=False)
        )

    fig = _figure(11, 4.5)
    scatter_ax, hist_ax = fig.subplots(1, 2)
    scatter_ax.scatter(y_pred[shown], residual[shown], s=4, alpha=0.4, rasterized=True)
    scatter_ax.axhline(0, color="grey", linestyle="--")
    scatter_ax.set_xlabel("predicted")
    scatter_ax.set_ylabel("residual (true - predicted)")
    sampled = f", sample of {len(shown)}" if len(shown) < len(residual) else ""
    scatter_ax.set_title(f"Residuals ({len(residual)} rows{sampled})")
    hist_ax.hist(residual, bins=50)
    hist_ax.axvline(0, color="grey", linestyle="--")
    hist_ax.set_xlabel("residual")
    hist_ax.set_ylabel("rows")
    hist_ax.set_title(f"RMSE {np.sqrt(np.mean(residual**2)):.4g}, bias {residual.mean():+.4g}")
    return _save(fig, path)


def _figure(width: float, height: float) -> Figure:
    # A bare Figure, never registered with pyplot: no GUI backend, no global figure list to
    # leak into, safe in worker threads; savefig renders PNG through Agg.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(fig: Figure, path: Path) -> Path:
    """Write the PNG next to its destination, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    try:
        fig.savefig(tmp, format="png", dpi=110)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
