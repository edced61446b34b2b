"""Test metrics by task, per-row losses (the unit the champion comparison resamples) and metrics
per slice. scikit-learn is imported inside the functions that need it."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    from mlops_assets.domain.schemas.model import TaskType

MISSING_SLICE = "<missing>"

# The loss each task's champion comparison is judged on: proper scoring rules, per row, so that
# a paired bootstrap over rows is possible and a better-calibrated model is rewarded.
PRIMARY_LOSS: dict[str, str] = {
    "binary": "log_loss",
    "multiclass": "log_loss",
    "regression": "squared_error",
}

LOSSES = ("log_loss", "squared_error", "zero_one")

_PROBA_CLIP = 1e-15


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
        import numpy as np

        return Predictions(
            np.asarray(self.y_true)[rows],
            np.asarray(self.y_pred)[rows],
            None if self.proba is None else self.proba[rows],
            self.classes,
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
    import numpy as np
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
    import numpy as np
    from sklearn.metrics import roc_auc_score

    assert predictions.proba is not None
    true_index = true_class_index(predictions)
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
    import numpy as np

    if loss == "log_loss":
        if task == "regression":
            raise ValueError("log_loss needs class probabilities; a regression has none.")
        proba, _ = require_proba(predictions, "log_loss")
        true_index = true_class_index(predictions)
        known = true_index >= 0
        p_true = np.zeros(len(true_index))
        p_true[known] = proba[np.flatnonzero(known), true_index[known]]
        return -np.log(np.clip(p_true, _PROBA_CLIP, 1.0))
    if loss == "squared_error":
        residual: npt.NDArray[np.float64] = np.asarray(
            predictions.y_true, dtype=float
        ) - np.asarray(predictions.y_pred, dtype=float)
        return residual**2
    if loss == "zero_one":
        wrong: npt.NDArray[np.bool_] = np.asarray(predictions.y_true) != np.asarray(
            predictions.y_pred
        )
        return wrong.astype(float)
    raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}.")


def require_proba(predictions: Predictions, what: str) -> tuple[np.ndarray, tuple[Any, ...]]:
    if predictions.proba is None or predictions.classes is None:
        raise ValueError(f"{what} needs class probabilities and the class order (classes).")
    return predictions.proba, predictions.classes


def true_class_index(predictions: Predictions) -> np.ndarray:
    """Column of each row's true class in `proba`; -1 for a label the model never saw."""
    import numpy as np
    import pandas as pd

    assert predictions.classes is not None
    index: npt.NDArray[np.intp] = pd.Index(list(predictions.classes)).get_indexer(
        np.asarray(predictions.y_true)
    )
    return index


def slice_labels(
    frame: pd.DataFrame, slice_columns: Sequence[str]
) -> Iterator[tuple[str, np.ndarray]]:
    """(column, labels) per slice column: values as strings, missing values as "<missing>"."""
    import numpy as np

    missing = [c for c in slice_columns if c not in frame.columns]
    if missing:
        raise ValueError(f"slice columns not in the frame: {', '.join(map(str, missing))}.")
    for column in slice_columns:
        values = frame[column]
        labels = np.where(values.isna().to_numpy(), MISSING_SLICE, values.astype(str).to_numpy())
        yield column, labels.astype(str)


def slice_groups(labels: np.ndarray, min_rows: int) -> list[tuple[str, np.ndarray]]:
    """(value, row positions) of each value with at least `min_rows` rows, largest first.

    Grouped by one sort rather than one scan per value, so a high-cardinality column stays
    O(n log n).
    """
    import numpy as np

    uniques, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    groups = [
        (str(value), order[bounds[k] : bounds[k + 1]])
        for k, value in enumerate(uniques)
        if counts[k] >= min_rows
    ]
    return sorted(groups, key=lambda group: (-len(group[1]), group[0]))


def check_aligned(frame: pd.DataFrame, n: int, what: str) -> None:
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
    import pandas as pd

    check_aligned(frame, len(predictions), "predictions")
    rows: list[dict[str, Any]] = []
    for column, labels in slice_labels(frame, slice_columns):
        for value, positions in slice_groups(labels, min_rows):
            metrics = compute_metrics(task, predictions.take(positions))
            rows.append({"column": column, "value": value, "rows": len(positions), **metrics})
    if not rows:
        return pd.DataFrame(columns=["column", "value", "rows"])
    return pd.DataFrame(rows)
