"""estimated_performance: the day's expected accuracy from calibrated probabilities, before
any label exists (CBPE, domain/estimation)."""

from datetime import date
from typing import TYPE_CHECKING

import dagster as dg

from mlops_assets.contracts import (
    CALIBRATOR_ARTIFACT,
    ESTIMATE_CHECK,
    MODEL_VERSION_KEY,
    PROBA_COLUMN_PREFIX,
    REFERENCE_PROFILE_ARTIFACT,
)
from mlops_assets.defs.common import DataFrame, failure, retried_on_mlflow_outage
from mlops_assets.defs.monitoring.partitions import check_result, daily_check_spec, daily_spec
from mlops_assets.defs.monitoring.steps import daily_step
from mlops_assets.domain.health import estimate_health
from mlops_assets.domain.verdicts import EstimatedVerdict, Metric
from mlops_assets.resources.io_managers import StoredParquetFile
from mlops_assets.resources.mlflow_registry import MlflowRegistry

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class EstimateConfig(dg.Config):
    max_ece: float = 0.05
    """Above this ECE after calibration (on the validation split) the estimate is untrusted."""
    max_out_of_support: float = 0.25
    """Above this share of rows outside the training support the estimate is untrusted."""
    max_loss_model_error: float = 0.25
    """A regressor's: above this relative error of its loss model (measured out of fold on the
    validation split at training) the estimated MAE is untrusted."""
    min_effect: float = 0.01
    """Smallest estimated accuracy drop (points; for a regressor the relative rise of MAE)
    that counts, when also beyond noise."""
    confidence: float = 0.95


SPEC = daily_spec(
    "estimated_performance",
    "The day's expected accuracy from the scoring version's calibrated probabilities "
    "(NannyML's CBPE), before labels: its interval holds the day's sampling noise, the "
    "calibrator's finite reference and a bound for the rows that moved away from it; the "
    "expected macro F1 with an interval built alike; binary precision/recall/F1/ROC AUC; "
    "for a regressor the expected MAE and RMSE from loss models of the validation split "
    "(NannyML's DLE); whether it can be trusted (calibration or loss model, support) and "
    "whether it dropped (rose) beyond noise against the version's test figure. Once some "
    "labels have landed, also the progressive accuracy: realized on those rows, estimated "
    "on the rest. Blind to concept shift: only labels (realized_performance) see that.",
    kinds={"numpy", "scikit-learn"},
)
CHECK = daily_check_spec(
    ESTIMATE_CHECK,
    "estimated_performance",
    "Yellow (WARN) when the label-free estimate dropped beyond noise (not yet confirmed by "
    "labels) or cannot be trusted. Never blocks.",
)


# The labels already landed (a delayed delivery): today's run stores its labels after the
# estimate, so they are no dependency of it.
@daily_step(SPEC, CHECK, earlier=["labels"])
@retried_on_mlflow_outage
def estimated_performance(
    context: dg.AssetExecutionContext,
    partition: str,
    config: EstimateConfig,
    mlflow_registry: MlflowRegistry,
    scoring_data: DataFrame,
    batch_predictions: StoredParquetFile,
    labels: DataFrame | None = None,
) -> dg.MaterializeResult:
    """`labels` is the day's stored labels when some have landed (None: none yet)."""
    import numpy as np

    from mlops_assets.domain.data_quality import last_row_per_id
    from mlops_assets.domain.drift import ReferenceProfile
    from mlops_assets.domain.estimation import ProbabilityCalibrator, estimate_classification
    from mlops_assets.domain.estimation.cbpe import (
        judge_estimate,
        out_of_support_share,
        progressive_accuracy,
    )
    from mlops_assets.domain.estimation.unvouched import unvouched_note, unvouched_share

    footer = batch_predictions.schema_arrow.metadata or {}
    version = footer.get(MODEL_VERSION_KEY.encode(), b"").decode()
    if not version:
        raise failure(f"{batch_predictions.path}: no model version in the file; re-run scoring.")
    run_id = mlflow_registry.version(version).run_id
    schema = mlflow_registry.training_schema(run_id)
    day = date.fromisoformat(partition)
    if schema.task == "regression":
        from mlops_assets.defs.monitoring.regression_estimate import estimate_regressor

        verdict, extra = estimate_regressor(
            context, day, version, run_id, schema, mlflow_registry, scoring_data,
            batch_predictions, max_loss_model_error=config.max_loss_model_error,
            max_out_of_support=config.max_out_of_support, min_effect=config.min_effect,
            confidence=config.confidence,
        )  # fmt: skip
        return dg.MaterializeResult(
            metadata={**verdict.to_metadata(), **extra},
            check_results=[check_result(ESTIMATE_CHECK, estimate_health(verdict))],
        )
    proba_columns = [
        c for c in batch_predictions.schema_arrow.names if c.startswith(PROBA_COLUMN_PREFIX)
    ]
    if not proba_columns:
        raise failure(
            f"{batch_predictions.path}: no {PROBA_COLUMN_PREFIX}* class-probability columns; "
            "re-score the day with this version of batch_predictions."
        )
    # Each id once (its last row), as realized_performance judges it: a file delivered twice
    # does not narrow the estimate's interval.
    stored = batch_predictions.schema_arrow.names
    ids = [c for c in schema.id_columns if c in stored]
    label_ids = [] if labels is None else [c for c in labels.columns if c != schema.target]
    carried = [c for c in dict.fromkeys([*label_ids, "prediction"]) if c in stored and c not in ids]
    day_rows = last_row_per_id(
        batch_predictions.read(columns=[*ids, *carried, *proba_columns]).to_pandas(), ids
    )
    raw = day_rows[proba_columns].to_numpy(dtype=float)
    calibrator = ProbabilityCalibrator.from_json(
        mlflow_registry.run_artifact(run_id, CALIBRATOR_ARTIFACT).read_text("utf-8")
    )
    profile = ReferenceProfile.from_json(
        mlflow_registry.run_artifact(run_id, REFERENCE_PROFILE_ARTIFACT).read_text("utf-8")
    )
    # The profile's values are exact or a quantile sketch: its extremes are the training range
    # to within one sketch step.
    outside = out_of_support_share(
        {c.name: scoring_data[c.name].to_numpy(dtype=float) for c in profile.numeric},
        {c.name: (float(np.min(c.values)), float(np.max(c.values))) for c in profile.numeric},
        {c.name: scoring_data[c.name].astype(object).to_numpy() for c in profile.categorical},
        {c.name: frozenset(c.counts) for c in profile.categorical},
    )
    unvouched = unvouched_share(profile, scoring_data)
    calibrated = calibrator.apply(raw)
    predicted = raw.argmax(axis=1)
    estimate = estimate_classification(
        calibrated,
        predicted,
        raw_positive_score=raw[:, 1] if raw.shape[1] == 2 else None,
        raw=raw,
        reference=calibrator.reference,
        out_of_support=outside,
        confidence=config.confidence,
    )
    progressive: dict[str, dg.MetadataValue] = {}
    if labels is not None and len(labels) and set(label_ids) <= set(stored):
        right, labelled = _landed(day_rows, labels, label_ids, schema.target, partition)
        step = progressive_accuracy(
            calibrated[np.arange(len(raw)), predicted],
            right,
            labelled,
            raw,
            calibrator.reference,
            out_of_support=outside,
            confidence=config.confidence,
        )
        progressive = {
            "labelled_rows": dg.MetadataValue.int(step.labelled),
            "progressive_accuracy": dg.MetadataValue.float(round(step.accuracy, 4)),
            "progressive_accuracy_low": dg.MetadataValue.float(round(step.low, 4)),
            "progressive_accuracy_high": dg.MetadataValue.float(round(step.high, 4)),
        }
    reference = mlflow_registry.version(version).tags.get("metric.test_accuracy")
    n_test = mlflow_registry.client().get_run(run_id).data.params.get("n_test")
    trusted, trust_reason, dropped, reason = judge_estimate(
        estimate,
        ece_after=calibrator.ece_after,
        out_of_support=outside,
        reference_value=None if reference is None else float(reference),
        reference_n=int(n_test) if n_test else None,
        max_ece=config.max_ece,
        max_out_of_support=config.max_out_of_support,
        min_effect=config.min_effect,
        confidence=config.confidence,
    )
    verdict = EstimatedVerdict(
        day=day,
        model_version=version,
        metric=Metric.ACCURACY,
        value=estimate.accuracy,
        low=estimate.accuracy_low,
        high=estimate.accuracy_high,
        reference_value=None if reference is None else float(reference),
        trusted=trusted,
        trust_reason=trust_reason,
        dropped=dropped,
        reason=reason,
    )
    figures = {
        f"estimated_{name}": dg.MetadataValue.float(float(value))
        for name, value in (
            ("f1_macro", estimate.f1_macro),
            ("f1_macro_low", estimate.f1_macro_low),
            ("f1_macro_high", estimate.f1_macro_high),
            ("precision", estimate.precision),
            ("recall", estimate.recall),
            ("f1", estimate.f1),
            ("roc_auc", estimate.roc_auc),
        )
        if value is not None
    }
    context.log.info(f"{partition}: {reason}; trusted: {trust_reason}")
    return dg.MaterializeResult(
        metadata={
            **verdict.to_metadata(),
            **figures,
            **progressive,
            "out_of_support_share": dg.MetadataValue.float(outside),
            "unvouched_share": dg.MetadataValue.float(round(unvouched, 4)),
            "calibration_ece_after": dg.MetadataValue.float(calibrator.ece_after),
            "estimate_interval": dg.MetadataValue.text(estimate.interval_basis),
            "estimate": dg.MetadataValue.md(
                f"**{'trusted' if trusted else 'untrusted'}**: {reason} ({trust_reason}); "
                f"{unvouched_note(unvouched)}"
            ),
        },
        check_results=[check_result(ESTIMATE_CHECK, estimate_health(verdict))],
    )


def _landed(
    day_rows: "pd.DataFrame",
    labels: "pd.DataFrame",
    label_ids: list[str],
    target: str,
    partition: str,
) -> tuple["np.ndarray", "np.ndarray"]:
    """Whether each of the day's predictions was right, and which rows have a label yet."""
    from mlops_assets.domain.data import DataSourceError
    from mlops_assets.domain.labels import join_labels
    from mlops_assets.domain.performance import labels_by_value

    try:
        joined = join_labels(
            day_rows[[*label_ids, "prediction"]],
            labels,
            source=f"labels {partition}",
            id_columns=label_ids,
            target=target,
        ).frame
    except DataSourceError as error:
        raise failure(str(error)) from error
    truth = labels_by_value(joined[target])
    labelled = truth.notna().to_numpy()
    right = (labels_by_value(joined["prediction"]) == truth).to_numpy() & labelled
    return right, labelled
