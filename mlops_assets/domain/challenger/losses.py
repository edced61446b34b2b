"""Per-row losses of a champion and a challenger on the same labelled rows, and their paired
differences, each bounded so that the sequential test's guarantee holds.

Three losses, each bounded by construction:
- ``zero_one``: 1 when the predicted class is wrong, else 0. The default: it is the accuracy
  people read, it needs only the predicted class (every model has one), and two similar models
  disagree on few rows, so the paired differences are mostly 0 and the test needs few rows.
- ``brier``: the multiclass Brier score, sum over classes of (p_k - 1[y = k])^2, in [0, 2].
  Uses the probabilities, so it also sees a better-calibrated challenger.
- ``log_loss``: -log p(true class) with p floored at exp(-LOG_LOSS_BOUND), in [0, LOG_LOSS_BOUND].
  The floor is what makes it bounded; a model that puts p < 1e-4 on the truth pays the same as one
  that puts 1e-4, which is the price of the bound (a confident miss still costs 9.2 nats).

A paired difference is ``loss(champion) - loss(challenger)``: positive when the challenger is
better on that row, and within [-bound, +bound] for a loss in [0, bound].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np
import pandas as pd

from mlops_assets.domain.performance import labels_by_value

LossKind = Literal["zero_one", "brier", "log_loss"]
LOSS_KINDS: tuple[LossKind, ...] = get_args(LossKind)
# exp(-9.21) ~ 1e-4: probabilities below 1 in 10,000 count as 1 in 10,000.
LOG_LOSS_BOUND = -math.log(1e-4)


class ChallengerInputError(ValueError):
    """A day's rows cannot be compared: they name the column or row and what to fix."""


def loss_bound(kind: LossKind) -> float:
    """The largest value of a row's loss (the smallest is 0 for all three)."""
    if kind == "zero_one":
        return 1.0
    if kind == "brier":
        return 2.0
    if kind == "log_loss":
        return LOG_LOSS_BOUND
    raise ChallengerInputError(f"unknown loss {kind!r}; use one of {', '.join(LOSS_KINDS)}")


def zero_one_losses(y_true: pd.Series, y_pred: pd.Series) -> np.ndarray:
    """1.0 where the predicted class differs from the label, compared by value (1, 1.0 and "1"
    are one class). Both series must be aligned row for row and have no missing label."""
    _check_aligned(y_true, y_pred, "y_pred")
    _check_labelled(y_true)
    truth = labels_by_value(y_true.reset_index(drop=True))
    predicted = labels_by_value(y_pred.reset_index(drop=True))
    missing = predicted.isna().to_numpy()
    if missing.any():
        raise ChallengerInputError(
            f"y_pred is missing at row {int(np.flatnonzero(missing)[0])}; "
            "every labelled row needs both models' predictions"
        )
    return np.asarray(truth.to_numpy() != predicted.to_numpy(), dtype=float)


def probability_losses(
    kind: Literal["brier", "log_loss"],
    y_true: pd.Series,
    proba: np.ndarray,
    classes: Sequence[object],
) -> np.ndarray:
    """Each row's Brier score or floored log loss from `proba` (one column per class, in
    `classes` order, rows summing to 1 within 1e-6). A label outside `classes` is an error: its
    probability is unknown, not 0."""
    probabilities = np.asarray(proba, dtype=float)
    if probabilities.ndim != 2 or probabilities.shape != (len(y_true), len(classes)):
        raise ChallengerInputError(
            f"proba has shape {probabilities.shape}; expected ({len(y_true)}, {len(classes)}): "
            "one row per label and one column per class"
        )
    _check_labelled(y_true)
    bad = ~np.isfinite(probabilities).all(axis=1) | (probabilities < 0).any(axis=1)
    bad |= np.abs(probabilities.sum(axis=1) - 1.0) > 1e-6
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ChallengerInputError(
            f"proba row {row} is not a probability vector ({probabilities[row].tolist()}); "
            "each row must be finite, non-negative and sum to 1"
        )
    names = labels_by_value(pd.Series(list(classes), dtype=object)).tolist()
    column = {name: i for i, name in enumerate(names)}
    truth = labels_by_value(y_true.reset_index(drop=True)).tolist()
    unknown = [i for i, label in enumerate(truth) if label not in column]
    if unknown:
        raise ChallengerInputError(
            f"label {truth[unknown[0]]!r} at row {unknown[0]} is not one of the model's classes "
            f"{names}; compare only models trained on the same classes"
        )
    index = np.array([column[label] for label in truth], dtype=int)
    on_truth = probabilities[np.arange(len(index)), index]
    # Rows within the 1e-6 tolerance can land a hair outside the loss's range ([0, 1.0000005]
    # gives a Brier score of 2.000001, p_y = 1.0000005 a log loss of -5e-7), which
    # paired_differences would refuse, failing the whole day: clip to the range.
    if kind == "log_loss":
        losses = -np.log(np.maximum(on_truth, math.exp(-LOG_LOSS_BOUND)))
        return np.asarray(np.clip(losses, 0.0, LOG_LOSS_BOUND), dtype=float)
    # sum_k p_k^2 - 2 p_y + 1 is the Brier score without building the one-hot matrix.
    brier = (probabilities**2).sum(axis=1) - 2 * on_truth + 1
    return np.asarray(np.clip(brier, 0.0, loss_bound("brier")), dtype=float)


def paired_differences(
    champion_losses: np.ndarray, challenger_losses: np.ndarray, kind: LossKind
) -> np.ndarray:
    """loss(champion) - loss(challenger) per row: positive where the challenger does better.
    Raises naming the first row whose loss is missing or outside [0, bound] of `kind`."""
    champion = np.asarray(champion_losses, dtype=float)
    challenger = np.asarray(challenger_losses, dtype=float)
    if champion.shape != challenger.shape or champion.ndim != 1:
        raise ChallengerInputError(
            f"the champion has {champion.shape} losses and the challenger {challenger.shape}; "
            "pair them row for row (both models scored on the same labelled rows)"
        )
    bound = loss_bound(kind)
    for name, losses in (("champion", champion), ("challenger", challenger)):
        outside = ~np.isfinite(losses) | (losses < 0) | (losses > bound)
        if outside.any():
            row = int(np.flatnonzero(outside)[0])
            raise ChallengerInputError(
                f"the {name}'s {kind} loss at row {row} is {losses[row]}, outside [0, {bound}]"
            )
    return np.asarray(champion - challenger, dtype=float)


def _check_aligned(y_true: pd.Series, other: pd.Series, name: str) -> None:
    if len(y_true) != len(other):
        raise ChallengerInputError(
            f"y_true has {len(y_true)} rows and {name} {len(other)}; align them row for row"
        )


def _check_labelled(y_true: pd.Series) -> None:
    missing = y_true.isna().to_numpy()
    if missing.any():
        raise ChallengerInputError(
            f"y_true is missing at row {int(np.flatnonzero(missing)[0])}; pass only the rows "
            "whose label has landed"
        )
