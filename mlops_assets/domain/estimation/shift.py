"""How far a regressor's day moved from the loss models' reference rows, and what that adds to
DLE's interval (issue 29: "widening with ... the importance weights' effective sample size").

The loss models are fitted on held-out reference rows, and their out-of-fold residuals (loss
minus out-of-fold predicted loss) say how wrong they are on those rows. A day that is one
region of the reference (one season, the night hours) is judged by the reference rows like it
only: a domain classifier (reference rows against the day's, cross-fitted so a reference row
is never scored by a classifier that saw it) gives each reference row its importance weight
w = P(day | x) / P(reference | x). The weighted mean residual is the loss model's error
measured on a day like this one, and its variance, sum w² (r - b)² / (sum w)², is that
measurement's own noise: both grow as the day moves away, the noise as the weights' effective
sample size (sum w)² / sum w² falls to the reference rows that look like the day.

The interval's model term already holds the loss model's relative error over the whole
reference (`dle._model_error`), whose own noise is that of the unweighted residuals. The shift
term is what the day adds beyond it, relative to the mean loss (the weighted mean loss for the
day, the plain one for the reference), as the model term is: max(b_w², v_w) / L_w² -
max(b², v) / L², at least 0. max(b², v) takes the measured bias when it stands above its own
noise and the noise when it does not (b_w² - v_w is the unbiased estimate of the squared bias,
plus v_w for not knowing it). Zero when the day looks like the reference (uniform weights),
larger as it moves away. Two-sided: the weighted bias is not trusted to move the estimate,
only to widen it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops_assets.domain.drift.columns import category_text

if TYPE_CHECKING:
    import pandas as pd

SHIFT_FOLDS = 2
# The classifier sees at most this many of the day's rows: the weights need the day's
# distribution, not every row of a million-row day (a bounded cost a day).
MAX_DAY_ROWS = 20_000
# A reference row's probability of being a day row is clipped here, so one row's weight is
# at most 999 times another's: a classifier certain of a row is not evidence of infinity.
_PROBABILITY_FLOOR = 1e-3
# Small and regularised as the loss models are (dle._LOSS_MODEL_PARAMS): it has to find the
# regions where the day and the reference differ, not to separate them row by row.
_CLASSIFIER_PARAMS: dict[str, Any] = {
    "max_iter": 50,
    "learning_rate": 0.1,
    "max_leaf_nodes": 8,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
}


@dataclass(frozen=True)
class ShiftReference:
    """The loss models' reference rows as a day's shift is measured against: their inputs
    (the features, the champion's prediction; categories as strings), each row's |error| and
    error², and the loss models' out-of-fold predictions of them."""

    frame: pd.DataFrame
    absolute: np.ndarray
    absolute_out_of_fold: np.ndarray
    squared: np.ndarray
    squared_out_of_fold: np.ndarray

    def to_json(self) -> str:
        arrays = ("absolute", "absolute_out_of_fold", "squared", "squared_out_of_fold")
        return json.dumps(
            {
                "frame": self.frame.to_dict(orient="list"),
                **{name: getattr(self, name).tolist() for name in arrays},
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ShiftReference:
        import pandas as pd

        raw = json.loads(text)
        return cls(
            pd.DataFrame(raw["frame"]),
            *(
                np.asarray(raw[name], dtype=float)
                for name in ("absolute", "absolute_out_of_fold", "squared", "squared_out_of_fold")
            ),
        )


@dataclass(frozen=True)
class ShiftTerm:
    """What the day's shift adds to the interval: a relative variance of the estimated MAE
    (absolute) and MSE (squared), and the importance weights' effective sample size among the
    `reference_rows` (as many when the day looks like the reference)."""

    absolute: float
    squared: float
    effective_rows: float
    reference_rows: int


def with_string_categories(frame: pd.DataFrame, categorical: Sequence[str]) -> pd.DataFrame:
    """Categories as the profile's strings (a code read as float matches the same read as
    int), so the reference kept at training and a day read later encode alike."""
    return frame.assign(**{c: _category_strings(frame[c]) for c in categorical})


def _category_strings(series: pd.Series) -> pd.Series:
    # Every row, its category as the profile reads it (category_text), a missing one "nan".
    import pandas as pd

    text = series.astype(str).to_numpy(dtype=object)
    text[series.notna().to_numpy()] = category_text(series).to_numpy()
    return pd.Series(text, index=series.index)


def weighted_excess(loss: np.ndarray, out_of_fold: np.ndarray, weights: np.ndarray) -> float:
    """max(b_w², v_w) / L_w² - max(b², v) / L², at least 0 (module docstring): b the mean of
    the residuals loss - out_of_fold, v its variance as a mean, L the mean loss; b_w, v_w and
    L_w the same under `weights`."""
    loss = np.asarray(loss, dtype=float)
    residual = loss - np.asarray(out_of_fold, dtype=float)
    return max(
        0.0,
        _relative_error(loss, residual, np.asarray(weights, dtype=float))
        - _relative_error(loss, residual, np.ones(len(loss))),
    )


def _relative_error(loss: np.ndarray, residual: np.ndarray, weights: np.ndarray) -> float:
    total = float(weights.sum())
    mean_loss = float((weights * loss).sum()) / total if total > 0 else 0.0
    if len(loss) < 2 or mean_loss <= 0:
        return 0.0
    bias = float((weights * residual).sum()) / total
    variance = float((weights**2 * (residual - bias) ** 2).sum()) / total**2
    return max(bias**2, variance) / mean_loss**2


def importance_weights(
    reference: pd.DataFrame,
    day: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    seed: int = 0,
) -> np.ndarray:
    """Each reference row's weight P(day | x) / P(reference | x), up to a constant, from a
    domain classifier cross-fitted over the reference rows (`SHIFT_FOLDS`: each reference row
    scored by a classifier fitted on the other reference rows and the day's)."""
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from mlops_assets.domain.training import build_pipeline

    rng = np.random.default_rng(seed)
    if len(day) > MAX_DAY_ROWS:
        day = day.iloc[np.sort(rng.choice(len(day), MAX_DAY_ROWS, replace=False))]
    folds = rng.permutation(len(reference)) % SHIFT_FOLDS
    probability = np.empty(len(reference))
    for fold in range(SHIFT_FOLDS):
        held = folds == fold
        frame = pd.concat([reference[~held], day], ignore_index=True)
        is_day = np.r_[np.zeros(int((~held).sum())), np.ones(len(day))]
        classifier = build_pipeline(
            list(numeric), list(categorical), "binary", params=_CLASSIFIER_PARAMS, seed=seed
        )
        with threadpool_limits(1):  # small fits: threads only wait for each other (dle._fit_one)
            classifier.fit(frame, is_day)
            probability[held] = classifier.predict_proba(reference[held])[:, 1]
    probability = np.clip(probability, _PROBABILITY_FLOOR, 1 - _PROBABILITY_FLOOR)
    weights: np.ndarray = probability / (1 - probability)
    return weights


def shift_term(
    reference: ShiftReference,
    day: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    seed: int = 0,
) -> ShiftTerm:
    """The day's shift term (module docstring) for `day`, the loss models' inputs on the day's
    rows (features and the champion's prediction)."""
    day = with_string_categories(day[list(reference.frame.columns)], categorical)
    weights = importance_weights(reference.frame, day, numeric, categorical, seed=seed)
    return ShiftTerm(
        absolute=weighted_excess(reference.absolute, reference.absolute_out_of_fold, weights),
        squared=weighted_excess(reference.squared, reference.squared_out_of_fold, weights),
        effective_rows=float(weights.sum() ** 2 / (weights**2).sum()),
        reference_rows=len(weights),
    )
