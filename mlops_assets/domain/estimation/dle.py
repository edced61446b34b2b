"""Direct loss estimation (NannyML's DLE): a regressor's MAE and RMSE on a day, before labels.

At training, two small gradient-boosted models learn the champion's loss from held-out
reference rows (the validation split, which the champion never fitted): the features and the
champion's prediction -> |error| and -> error². A day's estimated MAE is the mean predicted
|error| of its rows, its estimated RMSE the root of the mean predicted error².

Assumes covariate shift only: the loss given the features is unchanged (x moves, the error
the champion makes at a given x does not). Concept shift, which moves that relation, is
invisible to it, as to every label-free estimate.

The interval adds three variances, all measured on held-out reference rows, never assumed:
- the realized metric's own sampling noise at the day's size: a row's loss varies around its
  predicted mean with a variance proportional to that mean squared (the ratio `k` measured
  out of fold on the reference rows), so sum(k * m_i²) / n²;
- the loss model's own error, which does not shrink with the day's size: its relative error
  out of fold on the reference rows, region by region (quantile bins of the predicted loss),
  as a shifted day leans to a region; each region's error holds its own noise (a loss model
  learnt on N rows knows a mean loss to about sd / sqrt(N) at best);
- the day's shift away from the reference: what the loss model's error, measured on the
  reference rows weighted to look like the day, adds to (2) (domain/estimation/shift.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops_assets.domain.estimation.shift import (
    ShiftReference,
    ShiftTerm,
    shift_term,
    with_string_categories,
)
from mlops_assets.domain.performance import DEFAULT_CONFIDENCE

if TYPE_CHECKING:
    import pandas as pd

# The champion's prediction as one more input of the loss models.
PREDICTION_FEATURE = "__champion_prediction__"
LOSS_MODEL_FOLDS = 5
# The loss models learn from at most this many validation rows (12 small fits in all: about
# 2 to 6 s for 3,600 rows on a shared 2-CPU machine).
MAX_REFERENCE_ROWS = 20_000
# Regions of the reference rows (quantile bins of the predicted loss) the model's error is
# measured in, each of at least MIN_ROWS_PER_BIN rows.
LOSS_MODEL_BINS = 5
MIN_ROWS_PER_BIN = 20
# Small and regularised: the validation split may hold a few dozen rows (leaves of at least 20
# rows: on 62-80 reference rows, leaves of 5 made the estimate worse than the reference MAE).
_LOSS_MODEL_PARAMS: dict[str, Any] = {
    # Squared error, not Poisson: under this much shrinkage the log link fits the large losses
    # of a shifted day's region short (randhie: the estimate over a day's whole distribution
    # off by 1.8 % with Poisson, 1.4 % with squared error; scripts/measure_dle.py). A negative
    # prediction is clipped to 0 (LossModel.predict).
    "loss": "squared_error",
    "max_iter": 100,
    "learning_rate": 0.05,
    "max_leaf_nodes": 8,
    "l2_regularization": 1.0,
}
OLD_ARTEFACT_BASIS = (
    "sampling noise and the loss model's error on the reference only: the loss model was "
    "recorded before its reference rows were kept, so the day's shift away from the reference "
    "is left out; retrain for the full interval"
)


@dataclass(frozen=True)
class LossFigures:
    """How well one loss model (|error| or error²) did on the held-out reference rows, out of
    fold: `noise_ratio` k in Var(loss | x) = k * m(x)², `model_error` the relative error of
    the mean it estimates (out-of-fold error and the reference mean's noise in quadrature)."""

    reference_mean: float
    noise_ratio: float
    model_error: float


@dataclass(frozen=True)
class LossModel:
    """The two fitted loss models (sklearn pipelines) and what they measured at training;
    `reference` (None in an artefact written before the shift term) their reference rows."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    n_reference: int
    absolute: LossFigures
    squared: LossFigures
    absolute_model: Any
    squared_model: Any
    reference: ShiftReference | None = None

    def summary_json(self) -> str:
        """The measured figures as JSON, for people and for the artefact beside the models."""
        return json.dumps(
            {
                "numeric": list(self.numeric),
                "categorical": list(self.categorical),
                "n_reference": self.n_reference,
                "absolute": vars(self.absolute),
                "squared": vars(self.squared),
            },
            indent=2,
        )

    def to_bytes(self) -> bytes:
        """skops, not pickle: loading refuses any type not listed as trusted."""
        import skops.io as sio  # type: ignore[import-untyped]

        payload = {
            "summary": self.summary_json(),
            "absolute": self.absolute_model,
            "squared": self.squared_model,
            **({"shift_reference": self.reference.to_json()} if self.reference else {}),
        }
        data: bytes = sio.dumps(payload)
        return data

    @classmethod
    def from_bytes(cls, data: bytes) -> LossModel:
        import skops.io as sio

        from mlops_assets.domain.training import SKOPS_TRUSTED_TYPES

        payload = sio.loads(data, trusted=list(SKOPS_TRUSTED_TYPES))
        raw = json.loads(payload["summary"])
        return cls(
            numeric=tuple(raw["numeric"]),
            categorical=tuple(raw["categorical"]),
            n_reference=int(raw["n_reference"]),
            absolute=LossFigures(**raw["absolute"]),
            squared=LossFigures(**raw["squared"]),
            absolute_model=payload["absolute"],
            squared_model=payload["squared"],
            reference=(
                ShiftReference.from_json(payload["shift_reference"])
                if "shift_reference" in payload
                else None
            ),
        )

    def predict(
        self, features: pd.DataFrame, prediction: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-row predicted |error| and error² of the champion."""
        from threadpoolctl import threadpool_limits

        frame = _inputs(features, prediction, self.numeric, self.categorical)
        with threadpool_limits(1):  # see _fit_one
            absolute = np.clip(np.asarray(self.absolute_model.predict(frame), float), 0, None)
            squared = np.clip(np.asarray(self.squared_model.predict(frame), float), 0, None)
        return absolute, squared

    def shift(self, features: pd.DataFrame, prediction: np.ndarray) -> ShiftTerm | None:
        """The day's shift term (shift.py); None from an artefact without reference rows."""
        if self.reference is None:
            return None
        frame = _inputs(features, prediction, self.numeric, self.categorical)
        return shift_term(
            self.reference, frame, (*self.numeric, PREDICTION_FEATURE), self.categorical
        )


@dataclass(frozen=True)
class RegressionEstimate:
    """A day's estimated MAE and RMSE with their intervals, and what the intervals hold."""

    n: int
    mae: float
    mae_low: float
    mae_high: float
    rmse: float
    rmse_low: float
    rmse_high: float
    interval_basis: str = ""


def fit_loss_model(
    features: pd.DataFrame,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    seed: int = 0,
) -> LossModel:
    """Fit the loss models on held-out reference rows (the champion never fitted them):
    cross-fitted first, to measure the noise ratio and the model's error out of fold, then
    refitted on all the rows."""
    truth = np.asarray(y_true, dtype=float)
    predicted = np.asarray(y_pred, dtype=float)
    known = np.isfinite(truth) & np.isfinite(predicted)
    if known.sum() < 2 * LOSS_MODEL_FOLDS:
        raise ValueError(
            f"{int(known.sum())} labelled reference rows: too few to learn the model's loss "
            f"(at least {2 * LOSS_MODEL_FOLDS})."
        )
    rows = np.flatnonzero(known)
    if len(rows) > MAX_REFERENCE_ROWS:  # a bounded cost at training, whatever the split's size
        rows = np.sort(np.random.default_rng(seed).choice(rows, MAX_REFERENCE_ROWS, replace=False))
    frame = _inputs(features.iloc[rows], predicted[rows], tuple(numeric), tuple(categorical))
    errors = truth[rows] - predicted[rows]
    losses = {"absolute": np.abs(errors), "squared": errors**2}
    folds = np.random.default_rng(seed).permutation(len(frame)) % LOSS_MODEL_FOLDS
    figures, models, out_of_folds = {}, {}, {}
    for name, loss in losses.items():
        out_of_fold = np.empty(len(loss))
        for fold in range(LOSS_MODEL_FOLDS):
            held = folds == fold
            fitted = _fit_one(frame[~held], loss[~held], numeric, categorical, seed)
            out_of_fold[held] = np.clip(fitted.predict(frame[held]), 0, None)
        figures[name] = loss_figures(loss, out_of_fold)
        out_of_folds[name] = out_of_fold
        models[name] = _fit_one(frame, loss, numeric, categorical, seed)
    return LossModel(
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        n_reference=len(frame),
        absolute=figures["absolute"],
        squared=figures["squared"],
        absolute_model=models["absolute"],
        squared_model=models["squared"],
        reference=ShiftReference(
            with_string_categories(frame, categorical),
            losses["absolute"],
            out_of_folds["absolute"],
            losses["squared"],
            out_of_folds["squared"],
        ),
    )


def loss_figures(loss: np.ndarray, out_of_fold: np.ndarray) -> LossFigures:
    """What out-of-fold predictions of a loss say about the loss model (see LossFigures)."""
    loss = np.asarray(loss, dtype=float)
    predicted = np.asarray(out_of_fold, dtype=float)
    mean = float(loss.mean())
    if mean <= 0:  # a perfect champion on the reference: nothing to scale, nothing to miss
        return LossFigures(0.0, 0.0, 0.0)
    # Var(loss | x) = k m(x)²: the spread around the prediction, per unit of predicted mean².
    spread = float(((loss - predicted) ** 2).sum())
    scale = float((predicted**2).sum())
    noise_ratio = spread / scale if scale > 0 else float(loss.var() / mean**2)
    return LossFigures(mean, noise_ratio, _model_error(loss, predicted))


def _model_error(loss: np.ndarray, predicted: np.ndarray) -> float:
    """The relative error of the estimated mean where a shifted day may fall: the root mean
    square, over quantile bins of the predicted loss, of each bin's relative error out of fold
    (which holds the bin's own noise, sd / sqrt(rows), in expectation); never below the whole
    reference mean's noise. A day that leans to one region gets that region's error, not the
    error of the whole reference, where a bias up here and one down there cancel."""
    n = len(loss)
    bins = max(1, min(LOSS_MODEL_BINS, n // MIN_ROWS_PER_BIN))
    order = np.argsort(predicted, kind="mergesort")
    squares = []
    for rows in np.array_split(order, bins):
        actual = float(loss[rows].mean())
        if actual > 0:
            squares.append((float(predicted[rows].mean()) / actual - 1) ** 2)
    reference_noise = float(loss.std(ddof=1)) / math.sqrt(n) / float(loss.mean())
    binned = math.sqrt(float(np.mean(squares))) if squares else 0.0
    return max(binned, reference_noise)


def estimate_regression(
    absolute: np.ndarray,
    squared: np.ndarray,
    model: LossModel,
    *,
    shift: ShiftTerm | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
) -> RegressionEstimate:
    """The day's estimate from its rows' predicted |error| and error² (LossModel.predict) and
    its shift term (LossModel.shift; None: left out, and `interval_basis` says so)."""
    absolute = np.asarray(absolute, dtype=float)
    squared = np.asarray(squared, dtype=float)
    n = len(absolute)
    if n == 0:
        raise ValueError("no rows to estimate on.")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    mae, mae_half = _mean_interval(absolute, model.absolute, z, shift.absolute if shift else 0.0)
    mse, mse_half = _mean_interval(squared, model.squared, z, shift.squared if shift else 0.0)
    if shift is None:
        basis = OLD_ARTEFACT_BASIS
    else:
        basis = (
            f"sampling noise of {n} rows, the loss model's error on {model.n_reference} "
            f"reference rows, and the shift: the reference rows like the day's weigh as "
            f"{shift.effective_rows:.0f} of {shift.reference_rows}"
        )
    return RegressionEstimate(
        n=n,
        mae=mae,
        mae_low=max(0.0, mae - mae_half),
        mae_high=mae + mae_half,
        rmse=math.sqrt(mse),
        rmse_low=math.sqrt(max(0.0, mse - mse_half)),
        rmse_high=math.sqrt(mse + mse_half),
        interval_basis=basis,
    )


def _mean_interval(
    predicted: np.ndarray, figures: LossFigures, z: float, shift: float
) -> tuple[float, float]:
    n = len(predicted)
    mean = float(predicted.mean())
    sampling = figures.noise_ratio * float((predicted**2).sum()) / n**2
    model = (figures.model_error**2 + shift) * mean**2
    return mean, z * math.sqrt(sampling + model)


def _inputs(
    features: pd.DataFrame,
    prediction: np.ndarray,
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
) -> pd.DataFrame:
    missing = [c for c in (*numeric, *categorical) if c not in features.columns]
    if missing:
        raise ValueError(f"the loss model's feature columns {missing} are missing.")
    frame = features[[*numeric, *categorical]].reset_index(drop=True)
    return frame.assign(**{PREDICTION_FEATURE: np.asarray(prediction, dtype=float)})


def _fit_one(
    frame: pd.DataFrame,
    loss: np.ndarray,
    numeric: Sequence[str],
    categorical: Sequence[str],
    seed: int,
) -> Any:
    from threadpoolctl import threadpool_limits

    from mlops_assets.domain.training import build_pipeline

    if float(loss.sum()) <= 0:  # a perfect champion on the reference: its loss stays zero
        from sklearn.dummy import DummyRegressor

        return DummyRegressor(strategy="constant", constant=0.0).fit(frame, loss)
    params = {**_LOSS_MODEL_PARAMS, "min_samples_leaf": max(20, min(50, len(frame) // 20))}
    pipeline = build_pipeline(
        [*numeric, PREDICTION_FEATURE], categorical, "regression", params=params, seed=seed
    )
    # One thread: these models are small, and on a busy machine OpenMP's threads wait for each
    # other (4,000 rows: 40 s with the default threads under load, 2 s with one).
    with threadpool_limits(1):
        return pipeline.fit(frame, loss)
