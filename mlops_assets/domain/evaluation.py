"""Metrics, slices, plots, the model card and the champion-versus-challenger comparison.

Pure functions over arrays and frames. scikit-learn and matplotlib are imported inside the
functions that need them: this module is loaded with the code location, and also serves
`markdown_table` to assets that never compute a metric.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mlops_assets.domain.leakage import LeakyFeature
    from mlops_assets.domain.training import TaskType

MISSING_SLICE = "<missing>"
# An en dash: what `markdown_table` shows for None and NaN.
MISSING_CELL = "\N{EN DASH}"

# The loss each task's champion comparison is judged on: proper scoring rules, per row, so that
# a paired bootstrap over rows is possible and a better-calibrated model is rewarded.
PRIMARY_LOSS: dict[str, str] = {
    "binary": "log_loss",
    "multiclass": "log_loss",
    "regression": "squared_error",
}

LOSSES = ("log_loss", "squared_error", "zero_one")

_PROBA_CLIP = 1e-15
# Elements of the (resamples x rows) index matrix drawn at once: bounds the bootstrap's memory
# to about 64 MB whatever the test-split size.
_BOOTSTRAP_CHUNK_ELEMENTS = 4_000_000
_SCATTER_MAX_POINTS = 10_000
_ANNOTATE_MAX_CLASSES = 20


@dataclass(frozen=True)
class Predictions:
    """A model's output on labelled rows.

    `proba` has one column per entry of `classes`, in that order (scikit-learn's `classes_`);
    both are None for regression.
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray | None
    classes: tuple[Any, ...] | None

    def __post_init__(self) -> None:
        n = len(self.y_true)
        if len(self.y_pred) != n:
            raise ValueError(f"y_pred has {len(self.y_pred)} rows but y_true has {n}.")
        if self.proba is not None:
            if self.proba.ndim != 2 or self.proba.shape[0] != n:
                raise ValueError(f"proba has shape {self.proba.shape}; expected ({n}, classes).")
            if self.classes is not None and self.proba.shape[1] != len(self.classes):
                raise ValueError(
                    f"proba has {self.proba.shape[1]} columns but there are "
                    f"{len(self.classes)} classes."
                )

    def __len__(self) -> int:
        return len(self.y_true)

    def take(self, rows: np.ndarray) -> Predictions:
        """The predictions of the rows at positions `rows`."""
        return Predictions(
            np.asarray(self.y_true)[rows],
            np.asarray(self.y_pred)[rows],
            None if self.proba is None else self.proba[rows],
            self.classes,
        )


@dataclass(frozen=True)
class PairedComparison:
    """Champion and challenger losses on the same rows, with a bootstrap interval of the gain.

    `improvement` is champion mean loss minus challenger mean loss: positive means the
    challenger is better. The interval is a percentile interval of that difference.
    """

    metric: str
    n: int
    champion_loss: float
    challenger_loss: float
    improvement: float
    ci_low: float
    ci_high: float
    confidence: float

    def describe(self) -> str:
        """E.g. "improvement +0.0012 in log_loss, 95% CI [-0.004, +0.006]"."""
        return (
            f"improvement {self.improvement:+.3g} in {self.metric}, "
            f"{self.confidence:.0%} CI [{self.ci_low:+.3g}, {self.ci_high:+.3g}]"
        )


def compute_metrics(task: TaskType, predictions: Predictions) -> dict[str, float]:
    """Test metrics by task.

    Classification: accuracy, balanced_accuracy, f1_macro, roc_auc and log_loss. roc_auc is
    the positive (last) class against the rest for binary and the one-vs-rest macro average for
    multiclass; it is NaN when fewer than two classes occur in y_true, where it is undefined.
    log_loss is the mean of `per_row_loss(..., "log_loss")`, so it is exactly the mean loss the
    champion comparison bootstraps; a true label the model never saw counts as probability 0.
    Regression: rmse, mae and r2. Without probabilities (`proba` None), roc_auc and log_loss
    are NaN.
    """
    from sklearn import metrics as skm

    y_true, y_pred = np.asarray(predictions.y_true), np.asarray(predictions.y_pred)
    if task == "regression":
        y_true, y_pred = y_true.astype(float), y_pred.astype(float)
        return {
            "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
            "mae": float(skm.mean_absolute_error(y_true, y_pred)),
            "r2": float(skm.r2_score(y_true, y_pred)),
        }
    if task not in ("binary", "multiclass"):
        raise ValueError(f"unknown task {task!r}; expected binary, multiclass or regression.")
    with warnings.catch_warnings():
        # Expected on small slices where one class is absent; the metric is still defined.
        warnings.filterwarnings("ignore", message="A single label was found")
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        balanced_accuracy = float(skm.balanced_accuracy_score(y_true, y_pred))
    return {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": balanced_accuracy,
        "f1_macro": float(skm.f1_score(y_true, y_pred, average="macro", zero_division=0)),
        # Stored predictions (a day's batch_predictions) keep labels, not probabilities: the
        # label metrics are defined, the probability ones are not.
        "roc_auc": _roc_auc(task, predictions) if predictions.proba is not None else math.nan,
        "log_loss": float(per_row_loss(task, predictions, "log_loss").mean())
        if predictions.proba is not None
        else math.nan,
    }


def _roc_auc(task: TaskType, predictions: Predictions) -> float:
    from sklearn.metrics import roc_auc_score

    assert predictions.proba is not None
    true_index = _true_class_index(predictions)
    if task == "binary":
        columns = [predictions.proba.shape[1] - 1]
    else:
        columns = list(range(predictions.proba.shape[1]))
    # One-vs-rest per class column, macro-averaged over the classes present in y_true: the
    # same number as roc_auc_score(multi_class="ovr", labels=classes) when all are present,
    # and defined (not an exception) on a slice or split that lacks some class.
    scores = []
    for column in columns:
        positive = true_index == column
        if 0 < positive.sum() < len(positive):
            scores.append(roc_auc_score(positive, predictions.proba[:, column]))
    return float(np.mean(scores)) if scores else math.nan


def per_row_loss(task: TaskType, predictions: Predictions, loss: str) -> np.ndarray:
    """One loss value per row (lower is better), the unit the paired bootstrap resamples.

    log_loss: -log of the probability given to the true class, clipped at 1e-15 so one
    confident mistake costs about 34.5 rather than infinity. squared_error: (y - y_hat)^2.
    zero_one: 1 where the predicted label is wrong.
    """
    if loss == "log_loss":
        if task == "regression":
            raise ValueError("log_loss needs class probabilities; a regression has none.")
        proba, _ = _require_proba(predictions, "log_loss")
        true_index = _true_class_index(predictions)
        known = true_index >= 0
        p_true = np.zeros(len(true_index))
        p_true[known] = proba[np.flatnonzero(known), true_index[known]]
        return -np.log(np.clip(p_true, _PROBA_CLIP, 1.0))
    if loss == "squared_error":
        residual = np.asarray(predictions.y_true, dtype=float) - np.asarray(
            predictions.y_pred, dtype=float
        )
        return residual**2
    if loss == "zero_one":
        return (np.asarray(predictions.y_true) != np.asarray(predictions.y_pred)).astype(float)
    raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}.")


def _require_proba(predictions: Predictions, what: str) -> tuple[np.ndarray, tuple[Any, ...]]:
    if predictions.proba is None or predictions.classes is None:
        raise ValueError(f"{what} needs class probabilities and the class order (classes).")
    return predictions.proba, predictions.classes


def _true_class_index(predictions: Predictions) -> np.ndarray:
    """Column of each row's true class in `proba`; -1 for a label the model never saw."""
    assert predictions.classes is not None
    return pd.Index(list(predictions.classes)).get_indexer(np.asarray(predictions.y_true))


def _slices(frame: pd.DataFrame, slice_columns: Sequence[str]) -> Iterator[tuple[str, np.ndarray]]:
    """(column, labels) per slice column: values as strings, missing values as "<missing>"."""
    missing = [c for c in slice_columns if c not in frame.columns]
    if missing:
        raise ValueError(f"slice columns not in the frame: {', '.join(map(str, missing))}.")
    for column in slice_columns:
        values = frame[column]
        labels = np.where(values.isna().to_numpy(), MISSING_SLICE, values.astype(str).to_numpy())
        yield column, labels.astype(str)


def _groups(labels: np.ndarray, min_rows: int) -> list[tuple[str, np.ndarray]]:
    """(value, row positions) of each value with at least `min_rows` rows, largest first.

    Grouped by one sort rather than one scan per value, so a high-cardinality column stays
    O(n log n).
    """
    uniques, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    groups = [
        (str(value), order[bounds[k] : bounds[k + 1]])
        for k, value in enumerate(uniques)
        if counts[k] >= min_rows
    ]
    return sorted(groups, key=lambda group: (-len(group[1]), group[0]))


def _check_aligned(frame: pd.DataFrame, n: int, what: str) -> None:
    if len(frame) != n:
        raise ValueError(f"frame has {len(frame)} rows but {what} has {n}; they must align.")


def slice_metrics(
    task: TaskType,
    frame: pd.DataFrame,
    predictions: Predictions,
    slice_columns: Sequence[str],
    min_rows: int = 50,
) -> pd.DataFrame:
    """`compute_metrics` on each value of each slice column, rows of `frame` aligned by position.

    Slices with fewer than `min_rows` rows are skipped: their metrics would be mostly noise.
    Columns: column, value, rows, then the metrics; largest slices first within a column.
    """
    _check_aligned(frame, len(predictions), "predictions")
    rows: list[dict[str, Any]] = []
    for column, labels in _slices(frame, slice_columns):
        for value, positions in _groups(labels, min_rows):
            metrics = compute_metrics(task, predictions.take(positions))
            rows.append({"column": column, "value": value, "rows": len(positions), **metrics})
    if not rows:
        return pd.DataFrame(columns=["column", "value", "rows"])
    return pd.DataFrame(rows)


def paired_bootstrap(
    champion_loss: np.ndarray,
    challenger_loss: np.ndarray,
    *,
    metric: str,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Percentile bootstrap interval of the mean per-row loss difference, rows resampled in pairs.

    Both models are scored on the same rows, so resampling row indices (the same indices for
    both) keeps the pairing: row difficulty cancels and the interval is much tighter than
    comparing two independent means.
    """
    champion = np.asarray(champion_loss, dtype=float)
    challenger = np.asarray(challenger_loss, dtype=float)
    if champion.ndim != 1 or challenger.ndim != 1 or len(champion) != len(challenger):
        raise ValueError(
            f"champion_loss {champion.shape} and challenger_loss {challenger.shape} must be "
            "1-D with one value per row of the same rows."
        )
    if len(champion) == 0:
        raise ValueError("no rows to compare: both loss arrays are empty.")
    not_finite = int((~np.isfinite(champion)).sum() + (~np.isfinite(challenger)).sum())
    if not_finite:
        raise ValueError(f"{not_finite} loss values are NaN or infinite; cannot compare means.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence} must be in (0, 1).")
    if n_resamples < 1:
        raise ValueError(f"n_resamples={n_resamples} must be at least 1.")

    difference = champion - challenger
    n = len(difference)
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // n)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        rows = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = difference[rows].mean(axis=1)
    alpha = 1 - confidence
    ci_low, ci_high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return PairedComparison(
        metric=metric,
        n=n,
        champion_loss=float(champion.mean()),
        challenger_loss=float(challenger.mean()),
        improvement=float(difference.mean()),
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        confidence=confidence,
    )


def compare_on_slices(
    frame: pd.DataFrame,
    slice_columns: Sequence[str],
    champion_loss: np.ndarray,
    challenger_loss: np.ndarray,
    *,
    metric: str,
    min_rows: int = 50,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[tuple[str, str, PairedComparison]]:
    """`paired_bootstrap` within each slice of at least `min_rows` rows: (column, value, result).

    Slices are labelled as in `slice_metrics` (missing values form the "<missing>" slice).
    """
    champion = np.asarray(champion_loss, dtype=float)
    challenger = np.asarray(challenger_loss, dtype=float)
    _check_aligned(frame, len(champion), "champion_loss")
    _check_aligned(frame, len(challenger), "challenger_loss")
    return [
        (
            column,
            value,
            paired_bootstrap(
                champion[positions],
                challenger[positions],
                metric=metric,
                n_resamples=n_resamples,
                confidence=confidence,
                seed=seed,
            ),
        )
        for column, labels in _slices(frame, slice_columns)
        for value, positions in _groups(labels, min_rows)
    ]


def confusion_matrix_png(predictions: Predictions, path: Path) -> Path:
    """Confusion matrix, counts annotated and coloured by share of the true class (recall), so
    rare classes stay readable next to frequent ones."""
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
    proba, classes = _require_proba(predictions, "calibration_png")
    true_index = _true_class_index(predictions)
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


def model_card_markdown(
    *,
    model_name: str,
    task: str,
    estimator: str,
    data_hash: str,
    n_train: int,
    n_test: int,
    features: Sequence[str],
    target: str,
    metrics: Mapping[str, float],
    slices: pd.DataFrame,
    champion_metrics: Mapping[str, float] | None,
    intended_use: str,
    limitations: Sequence[str],
    leakage: Sequence[LeakyFeature] = (),
    column_roles: pd.DataFrame | None = None,
) -> str:
    """A Markdown model card: what the model is for, what it was trained on, how it scores,
    which features the leakage guard flagged (`leakage`), and the role of every column of the
    training table with the reason (`column_roles`: column, role, kind, reason)."""
    metric_rows: list[dict[str, Any]] = [
        {"metric": name, "candidate": value} for name, value in metrics.items()
    ]
    if champion_metrics is not None:
        for row in metric_rows:
            row["champion"] = champion_metrics.get(row["metric"])
    metric_table = markdown_table(pd.DataFrame(metric_rows, columns=_metric_columns(metric_rows)))
    feature_list = ", ".join(f"`{name}`" for name in features)
    slice_text = (
        markdown_table(slices)
        if len(slices)
        else "No categorical slice had enough test rows to be evaluated separately."
    )
    limitation_text = "\n".join(f"- {item}" for item in limitations) or "- None recorded."
    if leakage:
        leakage_text = (
            "These features alone nearly predict the target, copy it, or are named like an "
            "earlier model's output. The test metrics above are not to be trusted while they "
            "are features; the gate does not promote this model unless allow_leaky_features "
            "is set.\n\n"
            + markdown_table(
                pd.DataFrame(
                    [
                        {"feature": f.feature, "solo score": f.solo_score, "reason": f.reason}
                        for f in leakage
                    ]
                )
            )
        )
    else:
        leakage_text = "No feature alone nearly predicts the target (leakage guard passed)."
    sections = [
        f"# Model card: {model_name}",
        f"Task: {task}. Estimator: `{estimator}` (scikit-learn pipeline).",
        f"## Intended use\n\n{intended_use}",
        "## Data\n\n"
        f"- Target: `{target}`\n"
        f"- Features ({len(features)}): {feature_list}\n"
        f"- Training rows: {n_train}\n"
        f"- Test rows: {n_test} (held out; never used to fit or select the model)\n"
        f"- Data hash: `{data_hash}`",
        *(
            [f"## Column roles\n\n{markdown_table(column_roles)}"]
            if column_roles is not None and len(column_roles)
            else []
        ),
        f"## Metrics (test split)\n\n{metric_table}",
        f"## Slices\n\n{slice_text}",
        f"## Leakage\n\n{leakage_text}",
        f"## Limitations\n\n{limitation_text}",
    ]
    return "\n\n".join(sections) + "\n"


def _metric_columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(rows[0]) if rows else ["metric", "candidate"]


def markdown_table(df: pd.DataFrame, float_format: str = "{:.4g}") -> str:
    """`df` as a GitHub Markdown table (index left out), without the `tabulate` package.

    Floats use `float_format`; None and NaN show as MISSING_CELL; "|" in a cell is escaped and line
    breaks become spaces so a cell cannot break the table. Numeric columns are right-aligned.
    A frame without columns gives "".
    """
    if len(df.columns) == 0:
        return ""
    header = [_escape(str(name)) for name in df.columns]
    align = [
        "---:"
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        else "---"
        for dtype in df.dtypes
    ]
    lines = [_row(header), _row(align)]
    for values in df.itertuples(index=False, name=None):
        lines.append(_row([_escape(_format_cell(value, float_format)) for value in values]))
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _format_cell(value: Any, float_format: str) -> str:
    if value is None:
        return MISSING_CELL
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        return MISSING_CELL if math.isnan(value) else float_format.format(value)
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return MISSING_CELL
    return str(value)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
