"""One day monitored: scored chunk by chunk, then judged on feature drift, prediction drift and
performance in one verdict.

batch_predictions streams the day through `score_batches`; drift_report gathers the inputs
(the day, its predictions, the scoring model's reference profile, sample and test figure) and
calls `assess_day`, whose `DriftVerdict` is the contract the sensor and the demo read back
(mlops_assets.contracts). Pure: no Dagster, MLflow or disk.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from mlops_assets.contracts import (
    CHALLENGER_PREDICTION_COLUMN,
    CHALLENGER_PROBA_COLUMN_PREFIX,
    CHALLENGER_VERSION_COLUMN,
    PROBA_COLUMN_PREFIX,
)
from mlops_assets.domain.challenger.routing import row_keys, shadow_sample
from mlops_assets.domain.data_quality import (
    DataQualityConfig,
    DataQualityResult,
    assess_data_quality,
    last_row_per_id,
)
from mlops_assets.domain.drift import DriftConfig, ReferenceProfile, compute_drift
from mlops_assets.domain.performance import (
    DEFAULT_CONFIDENCE,
    DEFAULT_MIN_EFFECT,
    judge_predictions,
)
from mlops_assets.domain.quality_tests import data_quality_tests
from mlops_assets.domain.schemas import DatasetSchema
from mlops_assets.domain.shadow_scoring import Prediction, paired_scorer
from mlops_assets.domain.training import predict_frame, prediction_score
from mlops_assets.domain.verdicts import DriftVerdict, worst

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


@dataclass(frozen=True)
class DayAssessment:
    """The verdict, and the per-feature table it was drawn from (one row per feature), with
    the day's data quality (its columns are in `features` too)."""

    verdict: DriftVerdict
    features: pd.DataFrame
    data_quality: DataQualityResult

    def report_json(self) -> str:
        """The day's JSON report: the verdict's figures and every feature's comparison."""
        verdict = self.verdict
        summary = {
            "partition": verdict.day.isoformat(),
            "model_version": verdict.model_version,
            "drifted_share": verdict.drifted_share,
            "severity": verdict.severity,
            "dataset_drift": verdict.dataset_drift,
            "prediction_drift": verdict.prediction_drift,
            "performance": asdict(verdict.performance),
            "data_quality": {
                "severity": self.data_quality.severity,
                "findings": list(self.data_quality.findings),
                "duplicate_rows": self.data_quality.duplicate_rows,
                "duplicate_key": self.data_quality.duplicate_key,
                "extra_columns": list(self.data_quality.extra_columns),
            },
            "features": json.loads(self.features.to_json(orient="records")),
        }
        return json.dumps(summary, indent=2)


def assess_day(
    day: date,
    model_version: str,
    schema: DatasetSchema,
    profile: ReferenceProfile,
    current: pd.DataFrame,
    predictions: pd.DataFrame,
    reference_scores: np.ndarray,
    *,
    score_column: str,
    reference_value: float | None,
    reference_n: int | None,
    min_effect: float = DEFAULT_MIN_EFFECT,
    confidence: float = DEFAULT_CONFIDENCE,
    drift_config: DriftConfig | None = None,
    data_quality_config: DataQualityConfig | None = None,
) -> DayAssessment:
    """Judge one day scored by `model_version`.

    Args:
        current: the day's batch as stored (at least the schema's feature columns): its
            duplicated rows and extra columns are counted.
        predictions: the day's predictions: `prediction`, `score_column` and, on a labelled
            day, the schema's target. A repeated id is judged once (its last row).
        reference_scores: the scores the model gave its reference sample (training data).
        reference_value: the model's test accuracy (RMSE for a regressor), None if unrecorded.
        reference_n: the test split's rows behind `reference_value`, None if unrecorded.
    """
    drift_config = drift_config or DriftConfig()
    data_quality_config = data_quality_config or DataQualityConfig()
    if data_quality_config.fdr != drift_config.fdr:
        raise ValueError(
            f"DataQualityConfig.fdr ({data_quality_config.fdr}) and DriftConfig.fdr "
            f"({drift_config.fdr}) differ: the day's drift and data-quality tests are one "
            "false-discovery family, judged at one level"
        )
    # One family (issue 29: data-quality drift is drift, and a clean small day alarms at most
    # 5 %): both kinds of finding set the day's severity, so their tests share one
    # Benjamini-Hochberg control. Two families at 5 % each let a clean 50-row day of 20
    # features 30 % missing alarm on 6.7 % (scripts/measure_small_batches.py).
    quality_tests = data_quality_tests(profile, current)
    drift = compute_drift(
        profile,
        current[schema.feature_columns],
        drift_config,
        scores=(reference_scores, predictions[score_column].to_numpy()),
        other_p_values=quality_tests.p_values,
    )
    score_drift = drift.prediction
    assert score_drift is not None  # given the scores
    quality = assess_data_quality(
        profile,
        current,
        id_columns=schema.id_columns,
        known_columns=[c.name for c in schema.columns],
        config=data_quality_config,
        tests=quality_tests,
        q_values=np.array(drift.other_q_values),
    )
    performance = judge_predictions(
        schema.task,
        schema.target,
        last_row_per_id(predictions, schema.id_columns),
        reference_value=reference_value,
        reference_n=reference_n,
        min_effect=min_effect,
        confidence=confidence,
    )
    verdict = DriftVerdict(
        day=day,
        model_version=model_version,
        # Data-quality drift is drift (issue 29): a feature's missing share or unseen-category
        # share risen beyond noise (in the family above) sets the day's severity as a drifted
        # feature does.
        severity=worst(drift.severity, quality.drift_severity),
        drifted_share=drift.drifted_share,
        dataset_drift=drift.dataset_drift,
        drifted_features=sum(f.drifted for f in drift.features),
        prediction_psi=score_drift.psi,
        prediction_drift=bool(score_drift.drifted),
        performance=performance,
        data_quality_findings=quality.drift_findings,
    )
    table = drift.to_frame().merge(
        quality.to_frame().drop(columns=["missing_share", "training_missing_share"]),
        on="feature",
        how="left",
    )
    return DayAssessment(verdict=verdict, features=table, data_quality=quality)


@dataclass
class ScoringTotals:
    """Running totals of a day scored chunk by chunk, complete once every chunk is scored."""

    rows: int = 0
    score_sum: float = 0.0
    shadowed: int = 0
    """Rows the challenger scored (shadow in batch)."""

    @property
    def mean_score(self) -> float:
        return self.score_sum / self.rows if self.rows else float("nan")


@dataclass(frozen=True)
class ShadowModel:
    """The version holding `challenger`, scored on the same rows as the champion (shadow in
    batch): its predictions sit beside the champion's, which stay the day's output."""

    model: Any
    version: str
    feature_columns: tuple[str, ...]
    """The challenger's own features (read from the day as the champion's are)."""
    share: float = 1.0
    """The share of the day's rows it scores, sampled by their ids' hash (`shadow_sample`)."""


def score_batches(
    model: Any,
    chunks: Iterable[pd.DataFrame],
    schema: DatasetSchema,
    ids: Sequence[str],
    model_version: str,
    training_hash: str,
    totals: ScoringTotals,
    *,
    score_column: str,
    threads: int = 1,
    challenger: ShadowModel | None = None,
) -> Iterator[pd.DataFrame]:
    """The predictions of each chunk of a day, lazily: its id columns, the row's position in
    the day, the prediction, its score (in `score_column`), the model version and its training
    data hash, and the label when the day has one. `totals` counts rows and scores as they
    go.

    With `threads` > 1, that many chunks are scored at once while the caller writes the last
    one and reads the next, still yielded in order: the encoders hold the GIL, the trees and
    Parquet's reads and writes release it, so one chunk's encoding runs beside another's
    trees instead of leaving a CPU idle. Each thread's OpenMP loops get an equal share of the
    CPUs. At most `threads` + 1 chunks are held at a time.

    With a `challenger`, each row also carries its prediction, version and (a classifier's)
    class probabilities in the `__challenger_*` columns: the paired rows the challenger test
    needs. Below a share of 1, only the rows its sample holds do; the others' are null.
    """

    # With a challenger, the preprocessing both pipelines share is computed once per chunk.
    pair = (
        None
        if challenger is None
        else paired_scorer(
            model,
            tuple(schema.feature_columns),
            challenger.model,
            challenger.feature_columns,
            schema.task,
        )
    )

    def score(item: tuple[int, pd.DataFrame]) -> tuple[pd.DataFrame, float, int]:
        first_row, chunk = item
        shadow: dict[str, Any] = {}
        shadowed = 0
        if pair is None or challenger is None:
            champion = predict_frame(model, chunk[schema.feature_columns], schema.task)
        else:
            sampled = shadowed_rows(chunk, ids, first_row, challenger.share)
            shadowed = len(chunk) if sampled is None else int(sampled.sum())
            # No row sampled: the challenger scores one, all left null, so that every chunk
            # has the same columns of the same types.
            scored_rows = sampled if sampled is None or shadowed else _first_only(len(chunk))
            champion, challenger_prediction = pair.predict(chunk, scored_rows)
            shadow = shadow_columns(challenger, challenger_prediction, sampled)
        y_pred, proba, classes = champion
        scores = prediction_score(y_pred, proba, schema.task)
        # One column per class, so estimates and realized AUC / log loss read the file alone.
        class_columns = (
            {}
            if proba is None or classes is None
            else {f"{PROBA_COLUMN_PREFIX}{label}": proba[:, k] for k, label in enumerate(classes)}
        )
        scored = pd.DataFrame(
            {
                **{name: chunk[name].to_numpy() for name in ids},
                "row": np.arange(first_row, first_row + len(chunk)),
                "prediction": y_pred,
                score_column: scores,
                **class_columns,
                "model_version": model_version,
                "training_data_hash": training_hash,
                **shadow,
            }
        )
        if schema.target in chunk.columns:
            scored[schema.target] = chunk[schema.target].to_numpy()
        return scored, float(scores.sum()), shadowed

    def numbered() -> Iterator[tuple[int, pd.DataFrame]]:
        first_row = 0
        for chunk in chunks:
            yield first_row, chunk
            first_row += len(chunk)

    for scored, score_sum, shadowed in _in_order(score, numbered(), threads):
        totals.rows += len(scored)
        totals.score_sum += score_sum
        totals.shadowed += shadowed
        yield scored


def shadowed_rows(
    chunk: pd.DataFrame, ids: Sequence[str], first_row: int, share: float
) -> np.ndarray | None:
    """The rows of `chunk` the challenger scores at `share` (None: all), keyed as the canary
    keys a served row: by its id columns, else by its row in the day."""
    if share >= 1:
        return None
    keyed = (
        chunk[list(ids)]
        if ids
        else pd.DataFrame({"row": np.arange(first_row, first_row + len(chunk))})
    )
    return shadow_sample(row_keys(keyed.reset_index(drop=True), f"row {first_row}"), share)


def _first_only(rows: int) -> np.ndarray:
    mask = np.zeros(rows, dtype=bool)
    mask[:1] = True
    return mask


def with_shadow_columns(
    scored: pd.DataFrame, chunk: pd.DataFrame, challenger: ShadowModel, schema: DatasetSchema
) -> pd.DataFrame:
    """`scored` (the champion's predictions of `chunk`) with the challenger's beside them."""
    prediction = predict_frame(
        challenger.model, chunk[list(challenger.feature_columns)], schema.task
    )
    return scored.assign(**shadow_columns(challenger, prediction))


def shadow_columns(
    challenger: ShadowModel, prediction: Prediction, sampled: np.ndarray | None = None
) -> dict[str, Any]:
    """The `__challenger_*` columns of the challenger's `predict_frame` of a chunk: its
    prediction, version and (a classifier's) class probabilities. With `sampled` (a mask of
    the chunk's rows, `prediction` being of its true rows, or of its first row when none is),
    the rows outside it have all three missing: no challenger scored them."""
    y_pred, proba, classes = prediction
    columns: dict[str, Any] = {
        CHALLENGER_PREDICTION_COLUMN: y_pred,
        CHALLENGER_VERSION_COLUMN: challenger.version,
    }
    if proba is not None and classes is not None:
        columns.update(
            {
                f"{CHALLENGER_PROBA_COLUMN_PREFIX}{label}": proba[:, k]
                for k, label in enumerate(classes)
            }
        )
    if sampled is None:
        return columns
    positions = np.full(sampled.size, -1)
    positions[sampled] = np.arange(int(sampled.sum()))
    versions = np.full(sampled.size, None, dtype=object)
    versions[sampled] = challenger.version
    return {
        name: versions if name == CHALLENGER_VERSION_COLUMN else _spread(values, positions)
        for name, values in columns.items()
    }


def _spread(values: Any, positions: np.ndarray) -> Any:
    """`values[positions]`, missing where a position is -1: NaN in a float array (as the
    champion's probabilities are stored), else a nullable array of the values' own type."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return np.where(positions >= 0, values[np.maximum(positions, 0)], np.nan)
    return pd.array(values).take(positions, allow_fill=True)


def _in_order(
    fn: Callable[[_Item], _Result], items: Iterable[_Item], threads: int
) -> Iterator[_Result]:
    """`fn` of each item, yielded in the items' order, computed by up to `threads` threads
    with at most `threads` + 1 items taken from `items` and not yet yielded."""
    if threads <= 1:
        yield from map(fn, items)
        return
    from concurrent.futures import Future, ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    # The OpenMP setting is per thread: each worker sets its own once, the caller's is left.
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    openmp_threads = max(1, (cpus or 1) // threads)
    executor = ThreadPoolExecutor(
        threads,
        thread_name_prefix="score",
        initializer=threadpool_limits,
        initargs=(openmp_threads, "openmp"),
    )
    pending: deque[Future[_Result]] = deque()
    try:
        for item in items:
            pending.append(executor.submit(fn, item))
            if len(pending) > threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        # A failed chunk or a consumer that stops early: what is queued is dropped, what is
        # running (at most `threads` chunks) is waited for.
        executor.shutdown(wait=True, cancel_futures=True)
