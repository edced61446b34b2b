"""trained_model: split, fit (optionally search on validation), log everything to MLflow."""

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.contracts import (
    CALIBRATOR_ARTIFACT,
    DAGSTER_RUN_ID_TAG,
    DATA_HASH_TAG,
    ESTIMATOR_TAG,
    FEATURES_ARTIFACT,
    LEAKAGE_ARTIFACT,
    LEAKAGE_TAG,
    LOSS_MODEL_ARTIFACT,
    LOSS_MODEL_PARAM,
    LOSS_MODEL_SUMMARY_ARTIFACT,
    SCHEMA_ARTIFACT,
    SEARCH_ARTIFACT,
)
from mlops_assets.defs.common import (
    OWNER,
    TRAINING_GROUP,
    failure,
    number,
    retried_on_mlflow_outage,
)
from mlops_assets.defs.model_resources import ModelResources, resource_keys
from mlops_assets.domain.data import content_hash, write_parquet_atomic
from mlops_assets.domain.datasets import ValidatedDataset
from mlops_assets.domain.evaluation import Predictions, compute_metrics
from mlops_assets.domain.evaluation.model_card import NO_WINDOW
from mlops_assets.domain.leakage import (
    DEFAULT_LEAKAGE_THRESHOLD,
    LeakageReport,
    find_leaky_features,
)
from mlops_assets.domain.training import (
    ESTIMATORS,
    TrainedModelRef,
    fit_model,
    predict_frame,
    split_data,
    training_window,
)
from mlops_assets.services.training_run import log_training_run

if TYPE_CHECKING:
    import pandas as pd

    from mlops_assets.domain.estimation import ProbabilityCalibrator
    from mlops_assets.domain.estimation.dle import LossModel


class TrainingConfig(dg.Config):
    estimator: str = "hist_gradient_boosting"
    """One of hist_gradient_boosting, random_forest, linear."""
    search_iterations: int = 0
    """Randomized search candidates, ranked on the validation split only (0 = no search)."""
    seed: int = 42
    test_size: float = 0.2
    validation_size: float = 0.2
    leakage_threshold: float = DEFAULT_LEAKAGE_THRESHOLD
    """A feature whose solo score on the validation split (ROC AUC, macro one-vs-rest AUC or
    R2) reaches this is flagged as leaking the target."""


LEAKAGE_CHECK = "no_target_leakage"


@retried_on_mlflow_outage
def trained_model(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    validated_data: ValidatedDataset,
) -> Iterator[dg.Output[TrainedModelRef] | dg.AssetCheckResult]:
    import pandas as pd

    resources = ModelResources(context)
    mlflow_registry, storage = resources.mlflow_registry, resources.storage

    if config.estimator not in ESTIMATORS:
        raise failure(
            f"estimator {config.estimator!r} is unknown; choose one of {', '.join(ESTIMATORS)}."
        )
    # MLflow first: an unreachable server fails (and is retried) before minutes of fitting.
    experiment_id = mlflow_registry.experiment_id()
    schema = validated_data.schema
    numeric, categorical = tuple(schema.numeric_features), tuple(schema.categorical_features)
    data_hash = content_hash(validated_data.frame)
    split = split_data(
        validated_data.frame,
        schema.target,
        schema.task,
        seed=config.seed,
        test_size=config.test_size,
        validation_size=config.validation_size,
        timestamp_column=schema.timestamp_column,
    )
    fit = fit_model(
        split,
        target=schema.target,
        numeric_features=numeric,
        categorical_features=categorical,
        task=schema.task,
        estimator=config.estimator,
        search_iterations=config.search_iterations,
        seed=config.seed,
    )
    features = [*numeric, *categorical]
    y_pred, proba, classes = predict_frame(fit.pipeline, split.validation[features], schema.task)
    validation_metrics = compute_metrics(
        schema.task,
        Predictions(split.validation[schema.target].to_numpy(), y_pred, proba, classes),
    )
    calibrator = (
        None
        if proba is None or classes is None
        else _fit_calibrator(proba, classes, split.validation[schema.target], config.seed)
    )
    loss_model = (
        _fit_loss_model(context, split.validation, schema.target, y_pred, numeric, categorical)
        if schema.task == "regression"
        else None
    )
    leakage = find_leaky_features(
        split.train,
        split.validation,
        target=schema.target,
        numeric_features=numeric,
        categorical_features=categorical,
        task=schema.task,
        threshold=config.leakage_threshold,
    )
    if leakage.leaky:
        context.log.warning(
            "Features that leak the target: "
            + "; ".join(f.describe() for f in leakage.leaky)
            + ". The gate will not promote this model unless allow_leaky_features is set."
        )

    tags = {
        DAGSTER_RUN_ID_TAG: context.run.run_id,
        "dagster.asset": resources.names.trained_model.to_user_string(),
        DATA_HASH_TAG: data_hash,
        "schema_fingerprint": schema.fingerprint(),
        "schema_version": validated_data.schema_version,
        "task": schema.task,
        ESTIMATOR_TAG: config.estimator,
        LEAKAGE_TAG: ",".join(leakage.leaky_features),
    }
    run_id, model_uri = log_training_run(
        mlflow_registry,
        experiment_id=experiment_id,
        run_name=f"train-{context.run.run_id[:8]}",
        tags=tags,
        params={
            "estimator": config.estimator,
            "seed": config.seed,
            "split": split.method,
            "n_train": len(split.train),
            "n_validation": len(split.validation),
            "n_test": len(split.test),
            **{f"model.{k}": v for k, v in fit.params.items()},
            **({"calibration_method": calibrator.method} if calibrator else {}),
            **({LOSS_MODEL_PARAM: "dle"} if loss_model else {}),
        },
        metrics={
            **{f"validation_{k}": v for k, v in validation_metrics.items()},
            **(_calibration_figures(calibrator) if calibrator else {}),
        },
        texts={
            **({CALIBRATOR_ARTIFACT: calibrator.to_json()} if calibrator else {}),
            **({LOSS_MODEL_SUMMARY_ARTIFACT: loss_model.summary_json()} if loss_model else {}),
            LEAKAGE_ARTIFACT: leakage.markdown(limit=len(features)),
            SCHEMA_ARTIFACT: schema.to_json(),
            FEATURES_ARTIFACT: json.dumps(
                {"numeric": numeric, "categorical": categorical}, indent=2
            ),
            **(
                {SEARCH_ARTIFACT: pd.DataFrame(fit.search_results).to_csv(index=False)}
                if fit.search_results
                else {}
            ),
        },
        pipeline=fit.pipeline,
        train=split.train[features],
        validation=split.validation[features],
        numeric=numeric,
        categorical=categorical,
        task=schema.task,
        input_types={c.name: c.input_type for c in schema.columns if c.input_type},
        files={LOSS_MODEL_ARTIFACT: loss_model.to_bytes()} if loss_model else None,
    )
    test_path = storage.path("splits", run_id, "test.parquet")
    write_parquet_atomic(split.test, test_path)

    ref = TrainedModelRef(
        run_id=run_id,
        experiment_id=experiment_id,
        model_uri=model_uri,
        estimator=config.estimator,
        task=schema.task,
        target=schema.target,
        numeric_features=numeric,
        categorical_features=categorical,
        data_hash=data_hash,
        schema_json=schema.to_json(),
        test_split_path=str(test_path),
        n_train=len(split.train),
        n_validation=len(split.validation),
        seed=config.seed,
        params=fit.params,
        leaky_features=leakage.leaky_features,
        leakage=leakage.leaky,
        window=training_window(split.train, schema.date_columns),
    )
    yield dg.Output(
        ref,
        metadata={
            "mlflow_run": dg.MetadataValue.url(mlflow_registry.run_url(experiment_id, run_id)),
            "mlflow_run_id": dg.MetadataValue.text(run_id),
            "model_uri": dg.MetadataValue.text(model_uri),
            "data_hash": dg.MetadataValue.text(data_hash),
            "estimator": dg.MetadataValue.text(config.estimator),
            "split": dg.MetadataValue.text(split.method),
            "training_window": dg.MetadataValue.text(
                ref.window.describe() if ref.window else NO_WINDOW
            ),
            "train_rows": dg.MetadataValue.int(len(split.train)),
            "test_rows": dg.MetadataValue.int(len(split.test)),
            **{f"validation_{k}": number(v) for k, v in validation_metrics.items()},
            "leaky_features": dg.MetadataValue.text(", ".join(leakage.leaky_features) or "none"),
            "leakage": dg.MetadataValue.md(leakage.markdown()),
            **(
                {
                    "calibration_method": dg.MetadataValue.text(calibrator.method),
                    **{k: number(v) for k, v in _calibration_figures(calibrator).items()},
                }
                if calibrator
                else {}
            ),
            **(_loss_model_metadata(loss_model) if loss_model else {}),
        },
    )
    yield _leakage_check_result(leakage)


def _fit_calibrator(
    proba: Any, classes: tuple[Any, ...], y_true: "pd.Series", seed: int
) -> "ProbabilityCalibrator":
    """The validation split's calibrator, for estimating performance before labels only."""
    import pandas as pd

    from mlops_assets.domain.estimation import fit_calibrator

    y_index = pd.Index(classes).get_indexer(y_true)
    known = y_index >= 0  # a validation label the model never saw as a class cannot be scored
    return fit_calibrator(proba[known], y_index[known], seed=seed)


def _fit_loss_model(
    context: dg.AssetExecutionContext,
    validation: "pd.DataFrame",
    target: str,
    y_pred: Any,
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
) -> "LossModel | None":
    """The regressor's loss models on the validation split, for estimating its MAE and RMSE
    before labels only (DLE); None, said in the log, when the split is too small."""
    from mlops_assets.domain.estimation.dle import fit_loss_model

    try:
        return fit_loss_model(
            validation[[*numeric, *categorical]],
            validation[target].to_numpy(dtype=float),
            y_pred,
            numeric,
            categorical,
        )
    except ValueError as error:
        context.log.warning(f"No loss model: estimated_performance will have no estimate. {error}")
        return None


def _loss_model_metadata(loss_model: "LossModel") -> dict[str, dg.MetadataValue]:
    return {
        "loss_model_reference_rows": dg.MetadataValue.int(loss_model.n_reference),
        "loss_model_mae_error": dg.MetadataValue.float(round(loss_model.absolute.model_error, 4)),
        "loss_model_mse_error": dg.MetadataValue.float(round(loss_model.squared.model_error, 4)),
    }


def _calibration_figures(calibrator: "ProbabilityCalibrator") -> dict[str, float]:
    return {"ece_before": calibrator.ece_before, "ece_after": calibrator.ece_after}


def _leakage_check_result(leakage: LeakageReport) -> dg.AssetCheckResult:
    leaky = leakage.leaky
    return dg.AssetCheckResult(
        check_name=LEAKAGE_CHECK,
        passed=not leaky,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "Features that leak the target: " + "; ".join(f.describe() for f in leaky)
            if leaky
            else f"No feature alone reaches {leakage.threshold:g} ({leakage.metric})."
        ),
        metadata={
            "leaky_features": dg.MetadataValue.text(", ".join(leakage.leaky_features) or "none"),
            **{f"solo_score.{f.feature}": number(f.solo_score) for f in leaky},
            "threshold": number(leakage.threshold),
            "solo_scores": dg.MetadataValue.md(leakage.markdown()),
        },
    )


def trained_model_asset(names: ModelNames, retry: dg.RetryPolicy) -> dg.AssetsDefinition:
    """The model's trained_model, logged to its MLflow experiment."""
    return dg.asset(
        key=names.trained_model,
        group_name=names.group(TRAINING_GROUP),
        required_resource_keys=resource_keys(names, "mlflow_registry", "storage"),
        ins={"validated_data": dg.AssetIn(key=names.validated_data)},
        kinds={"scikit-learn", "mlflow"},
        owners=[OWNER],
        retry_policy=retry,
        description=(
            "A scikit-learn Pipeline (the preprocessing the estimator needs: native categories for "
            "HistGradientBoosting, impute, scale and one-hot for the others; unknown categories "
            "are scored) fitted on a reproducible split. Logged to MLflow with params, data "
            "hash, schema, features, validation metrics, signature and input example. Each feature "
            "is also scored alone on the validation split to find target leakage."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                LEAKAGE_CHECK,
                asset=names.trained_model,
                description=(
                    "No feature alone nearly predicts the target (solo score below "
                    "leakage_threshold), equals it, or is named like an earlier model's output. "
                    "A warning: the gate keeps a leaking model from becoming champion."
                ),
            )
        ],
    )(trained_model)
