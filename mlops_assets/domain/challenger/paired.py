"""A day's labelled rows as the paired evidence the sequential test takes: each row's loss under
the champion and under the challenger (both stored by batch_predictions, shadow in batch), and
the two models' accuracy on the day for people to read beside the test's figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops_assets.contracts import (
    CHALLENGER_PREDICTION_COLUMN,
    CHALLENGER_PROBA_COLUMN_PREFIX,
    CHALLENGER_VERSION_COLUMN,
    PROBA_COLUMN_PREFIX,
)
from mlops_assets.domain.challenger.losses import (
    ChallengerInputError,
    LossKind,
    paired_differences,
    probability_losses,
    zero_one_losses,
)


@dataclass(frozen=True)
class PairedDay:
    """One day's paired rows: the differences to add to the evidence, and both accuracies."""

    differences: np.ndarray
    champion_accuracy: float
    challenger_accuracy: float

    @property
    def rows(self) -> int:
        return int(self.differences.size)


def shadow_version(versions: pd.Series) -> str | None:
    """The challenger version that scored most of the day's rows (a challenger replaced mid-day
    leaves two), or None on a day without a scored row (a zero-row day has no mode)."""
    most_rows = versions.dropna().mode()
    return None if most_rows.empty else str(most_rows.iloc[0])


def paired_day(
    labelled: pd.DataFrame,
    target: str,
    challenger_version: str,
    loss: LossKind,
    classes: Sequence[object] = (),
    task: str = "binary",
) -> PairedDay:
    """The paired differences `loss(champion) - loss(challenger)` on the rows of `labelled`
    (the day's predictions joined to their landed labels) that the challenger
    `challenger_version` scored. Rows scored by no challenger, or by another one, are not
    paired and are left out. Brier and log loss read both models' class-probability columns
    (`classes` in the model's order); a missing one is an error naming it.

    A regressor's predictions are refused: all three losses are for classes (with 0/1 loss a
    regressor is wrong on almost every row, so the test would retire every regression
    challenger), and no bounded loss for a regressor is built yet."""
    if task == "regression":
        raise ChallengerInputError(
            f"{loss} loss is for classifiers: no bounded loss for a regressor yet, so a "
            "regression challenger cannot be judged by the sequential test"
        )
    if CHALLENGER_VERSION_COLUMN not in labelled.columns:
        raise ChallengerInputError(
            f"the day's predictions have no {CHALLENGER_VERSION_COLUMN} column: no challenger "
            "scored them (shadow in batch starts once a version holds `challenger`)"
        )
    rows = labelled[labelled[CHALLENGER_VERSION_COLUMN].astype(str) == challenger_version]
    rows = rows[rows[target].notna()].reset_index(drop=True)
    truth = rows[target]
    champion_wrong = zero_one_losses(truth, rows["prediction"])
    challenger_wrong = zero_one_losses(truth, rows[CHALLENGER_PREDICTION_COLUMN])
    if loss == "zero_one":
        champion_losses, challenger_losses = champion_wrong, challenger_wrong
    else:
        champion_losses = probability_losses(
            loss, truth, _columns(rows, PROBA_COLUMN_PREFIX, classes), classes
        )
        challenger_losses = probability_losses(
            loss, truth, _columns(rows, CHALLENGER_PROBA_COLUMN_PREFIX, classes), classes
        )
    return PairedDay(
        paired_differences(champion_losses, challenger_losses, loss),
        _accuracy(champion_wrong),
        _accuracy(challenger_wrong),
    )


def _accuracy(wrong: np.ndarray) -> float:
    return float(1 - wrong.mean()) if wrong.size else float("nan")


def _columns(rows: pd.DataFrame, prefix: str, classes: Sequence[object]) -> np.ndarray:
    names = [f"{prefix}{label}" for label in classes]
    missing = [name for name in names if name not in rows.columns]
    if not names or missing:
        raise ChallengerInputError(
            f"the day's predictions have no {', '.join(missing) or prefix + '*'} column; "
            "a probability loss needs both models' class probabilities"
        )
    return rows[names].to_numpy(dtype=float)
