"""estimated_performance for a regressor: the day's expected MAE and RMSE from the loss models
fitted at training (direct loss estimation, domain/estimation/dle.py), before any label."""

from datetime import date
from typing import TYPE_CHECKING, Any

import dagster as dg

from mlops_assets.contracts import (
    LOSS_MODEL_ARTIFACT,
    LOSS_MODEL_PARAM,
    REFERENCE_PROFILE_ARTIFACT,
)
from mlops_assets.defs.common import failure
from mlops_assets.domain.verdicts import EstimatedVerdict, Metric
from mlops_assets.resources.io_managers import StoredParquetFile
from mlops_assets.resources.mlflow_registry import MlflowRegistry

if TYPE_CHECKING:
    import pandas as pd

    from mlops_assets.domain.schemas import DatasetSchema

NO_LOSS_MODEL = (
    "no loss model: this regressor was trained without one (before direct loss estimation, "
    "or on too few validation rows); retrain it for an estimate"
)


def estimate_regressor(
    context: dg.AssetExecutionContext,
    day: date,
    version: str,
    run_id: str,
    schema: "DatasetSchema",
    mlflow_registry: MlflowRegistry,
    scoring_data: "pd.DataFrame",
    batch_predictions: StoredParquetFile,
    *,
    max_loss_model_error: float,
    max_out_of_support: float,
    min_effect: float,
    confidence: float,
) -> tuple[EstimatedVerdict, dict[str, Any]]:
    """The day's verdict (metric "mae") and the metadata beside it (RMSE, the loss model)."""
    from mlops_assets.domain.data_quality import last_row_per_id
    from mlops_assets.domain.estimation.dle import LossModel, estimate_regression
    from mlops_assets.domain.estimation.dle_judge import judge_regression_estimate
    from mlops_assets.domain.estimation.unvouched import unvouched_note

    run = mlflow_registry.client().get_run(run_id)
    if LOSS_MODEL_PARAM not in run.data.params:
        nan = float("nan")
        verdict = EstimatedVerdict(
            day,
            version,
            Metric.MAE,
            nan,
            nan,
            nan,
            None,
            False,
            NO_LOSS_MODEL,
            False,
            NO_LOSS_MODEL,
        )
        return verdict, {}
    stored = mlflow_registry.run_artifact(run_id, LOSS_MODEL_ARTIFACT)
    model = LossModel.from_bytes(stored.read_bytes())
    names = batch_predictions.schema_arrow.names
    if "row" not in names:
        raise failure(
            f"{batch_predictions.path}: no `row` column to find each prediction's features; "
            "re-score the day with this version of batch_predictions."
        )
    ids = [c for c in schema.id_columns if c in names]
    scored = batch_predictions.read(columns=[*ids, "row", "prediction"]).to_pandas()
    # Each id once (its last row), as realized_performance judges it; `row` is the position of
    # the prediction's input row in the day's scoring data.
    scored = last_row_per_id(scored, ids)
    features = scoring_data.iloc[scored["row"].to_numpy()]
    prediction = scored["prediction"].to_numpy(dtype=float)
    absolute, squared = model.predict(features, prediction)
    shift = model.shift(features, prediction)
    estimate = estimate_regression(absolute, squared, model, shift=shift, confidence=confidence)
    outside, unvouched = _support(mlflow_registry, run_id, features)
    registered = mlflow_registry.version(version)
    reference = registered.tags.get("metric.test_mae")
    n_test = run.data.params.get("n_test")
    trusted, trust_reason, risen, reason = judge_regression_estimate(
        estimate,
        model,
        out_of_support=outside,
        reference_mae=None if reference is None else float(reference),
        reference_n=int(n_test) if n_test else None,
        max_loss_model_error=max_loss_model_error,
        max_out_of_support=max_out_of_support,
        min_effect=min_effect,
        confidence=confidence,
    )
    verdict = EstimatedVerdict(
        day=day,
        model_version=version,
        metric=Metric.MAE,
        value=estimate.mae,
        low=estimate.mae_low,
        high=estimate.mae_high,
        reference_value=None if reference is None else float(reference),
        trusted=trusted,
        trust_reason=trust_reason,
        dropped=risen,
        reason=reason,
    )
    context.log.info(f"{day}: {reason}; trusted: {trust_reason}")
    metadata = {
        "estimated_rmse": dg.MetadataValue.float(round(estimate.rmse, 6)),
        "estimated_rmse_low": dg.MetadataValue.float(round(estimate.rmse_low, 6)),
        "estimated_rmse_high": dg.MetadataValue.float(round(estimate.rmse_high, 6)),
        "out_of_support_share": dg.MetadataValue.float(round(outside, 4)),
        "unvouched_share": dg.MetadataValue.float(round(unvouched, 4)),
        "loss_model_mae_error": dg.MetadataValue.float(round(model.absolute.model_error, 4)),
        **(
            {"shift_effective_rows": dg.MetadataValue.int(round(shift.effective_rows))}
            if shift
            else {}
        ),
        "estimate": dg.MetadataValue.md(
            f"**{'trusted' if trusted else 'untrusted'}**: {reason} ({trust_reason}); "
            f"{unvouched_note(unvouched)}; the interval holds {estimate.interval_basis}"
        ),
    }
    return verdict, metadata


def _support(
    mlflow_registry: MlflowRegistry, run_id: str, features: "pd.DataFrame"
) -> tuple[float, float]:
    """The shares of the day's rows outside the training support, and unvouched for."""
    import numpy as np

    from mlops_assets.domain.drift import ReferenceProfile
    from mlops_assets.domain.estimation.cbpe import out_of_support_share
    from mlops_assets.domain.estimation.unvouched import unvouched_share

    profile = ReferenceProfile.from_json(
        mlflow_registry.run_artifact(run_id, REFERENCE_PROFILE_ARTIFACT).read_text("utf-8")
    )
    outside = out_of_support_share(
        {c.name: features[c.name].to_numpy(dtype=float) for c in profile.numeric},
        {c.name: (float(np.min(c.values)), float(np.max(c.values))) for c in profile.numeric},
        {c.name: features[c.name].astype(object).to_numpy() for c in profile.categorical},
        {c.name: frozenset(c.counts) for c in profile.categorical},
    )
    return outside, unvouched_share(profile, features)
