"""trained_model: split, fit (optionally search on validation), log everything to MLflow."""

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from mlops_assets.assets.common import (
    MLFLOW_RETRY_POLICY,
    OWNER,
    TRAINING_GROUP,
    failure,
    retried_on_mlflow_outage,
)
from mlops_assets.domain.data import content_hash, write_parquet_atomic
from mlops_assets.domain.datasets import ValidatedDataset
from mlops_assets.domain.evaluation import Predictions, compute_metrics
from mlops_assets.domain.leakage import (
    DEFAULT_LEAKAGE_THRESHOLD,
    LeakageReport,
    find_leaky_features,
)
from mlops_assets.domain.training import (
    ESTIMATORS,
    SKOPS_TRUSTED_TYPES,
    TrainedModelRef,
    fit_model,
    predict_frame,
    prediction_score,
    split_data,
)
from mlops_assets.resources.mlflow_registry import (
    REFERENCE_PROFILE_ARTIFACT,
    REFERENCE_SAMPLE_ARTIFACT,
    REFERENCE_SAMPLE_ROWS,
    SCHEMA_ARTIFACT,
    SCORE_COLUMN,
    MlflowRegistry,
)
from mlops_assets.resources.project import ProjectStorage


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
# MLflow run tag: the flagged features, comma-separated ("" when none).
LEAKAGE_TAG = "leakage.features"


@dg.asset(
    group_name=TRAINING_GROUP,
    kinds={"scikit-learn", "mlflow"},
    owners=[OWNER],
    code_version="1",
    retry_policy=MLFLOW_RETRY_POLICY,
    description=(
        "A scikit-learn Pipeline (impute, scale, one-hot with unknown categories ignored, then "
        "the estimator) fitted on a reproducible split. Logged to MLflow with params, data "
        "hash, schema, features, validation metrics, signature and input example. Each feature "
        "is also scored alone on the validation split to find target leakage."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            LEAKAGE_CHECK,
            asset="trained_model",
            description=(
                "No feature alone nearly predicts the target (solo score below "
                "leakage_threshold), equals it, or is named like an earlier model's output. "
                "A warning: the gate keeps a leaking model from becoming champion."
            ),
        )
    ],
)
@retried_on_mlflow_outage
def trained_model(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    validated_data: ValidatedDataset,
    mlflow_registry: MlflowRegistry,
    storage: ProjectStorage,
) -> Iterator[dg.Output[TrainedModelRef] | dg.AssetCheckResult]:
    import mlflow
    import mlflow.sklearn

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
        "dagster.run_id": context.run_id,
        "dagster.asset": "trained_model",
        "data_hash": data_hash,
        "schema_fingerprint": schema.fingerprint(),
        "schema_version": validated_data.schema_version,
        "task": schema.task,
        "estimator": config.estimator,
        LEAKAGE_TAG: ",".join(leakage.leaky_features),
    }
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"train-{context.run_id[:8]}", tags=tags
    ) as run:
        mlflow.log_params(
            {
                "estimator": config.estimator,
                "seed": config.seed,
                "split": split.method,
                "n_train": len(split.train),
                "n_validation": len(split.validation),
                "n_test": len(split.test),
                **{f"model.{k}": v for k, v in fit.params.items()},
            }
        )
        mlflow.log_metrics({f"validation_{k}": v for k, v in validation_metrics.items()})
        mlflow.log_text(leakage.markdown(limit=len(features)), "leakage.md")
        mlflow.log_text(schema.to_json(), SCHEMA_ARTIFACT)
        mlflow.log_text(
            json.dumps({"numeric": numeric, "categorical": categorical}, indent=2),
            "features.json",
        )
        _log_reference(fit.pipeline, split.train[features], numeric, categorical, schema.task)
        if fit.search_results:
            mlflow.log_text(pd.DataFrame(fit.search_results).to_csv(index=False), "search.csv")
        example = split.train[features].head(5)
        model_info = mlflow.sklearn.log_model(
            fit.pipeline,
            name="model",
            signature=_signature(fit.pipeline, example, numeric),
            input_example=example,
            skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
            pip_requirements=_pip_requirements(),
        )
    test_path = storage.path("splits", run.info.run_id, "test.parquet")
    write_parquet_atomic(split.test, test_path)

    ref = TrainedModelRef(
        run_id=run.info.run_id,
        experiment_id=experiment_id,
        model_uri=model_info.model_uri,
        estimator=config.estimator,
        task=schema.task,
        target=schema.target,
        numeric_features=numeric,
        categorical_features=categorical,
        data_hash=data_hash,
        schema_json=schema.to_json(),
        test_split_path=str(test_path),
        n_train=len(split.train),
        params=fit.params,
        leaky_features=leakage.leaky_features,
        leakage=leakage.leaky,
    )
    yield dg.Output(
        ref,
        metadata={
            "mlflow_run": dg.MetadataValue.url(
                mlflow_registry.run_url(experiment_id, run.info.run_id)
            ),
            "mlflow_run_id": dg.MetadataValue.text(run.info.run_id),
            "model_uri": dg.MetadataValue.text(model_info.model_uri),
            "data_hash": dg.MetadataValue.text(data_hash),
            "estimator": dg.MetadataValue.text(config.estimator),
            "split": dg.MetadataValue.text(split.method),
            "train_rows": dg.MetadataValue.int(len(split.train)),
            "test_rows": dg.MetadataValue.int(len(split.test)),
            **{
                f"validation_{k}": dg.MetadataValue.float(float(v))
                for k, v in validation_metrics.items()
            },
            "leaky_features": dg.MetadataValue.text(", ".join(leakage.leaky_features) or "none"),
            "leakage": dg.MetadataValue.md(leakage.markdown()),
        },
    )
    yield _leakage_check_result(leakage)


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
            **{
                f"solo_score.{f.feature}": dg.MetadataValue.float(float(f.solo_score))
                for f in leaky
            },
            "threshold": dg.MetadataValue.float(leakage.threshold),
            "solo_scores": dg.MetadataValue.md(leakage.markdown()),
        },
    )


def _log_reference(
    pipeline: object,
    train: pd.DataFrame,
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
    task: str,
) -> None:
    """Reference statistics for drift, computed once per model version from its training rows
    (not every day), plus a row sample with the model's scores for the human-facing report."""
    import mlflow

    # scipy (through the drift module) loads only in runs, not with the code location.
    from mlops_assets.domain.drift import build_reference_profile

    profile = build_reference_profile(train, numeric, categorical)
    mlflow.log_text(profile.to_json(), REFERENCE_PROFILE_ARTIFACT)
    sample = train.sample(n=min(len(train), REFERENCE_SAMPLE_ROWS), random_state=0)
    y_pred, proba, _ = predict_frame(pipeline, sample, task)  # type: ignore[arg-type]
    sample = sample.assign(**{SCORE_COLUMN: prediction_score(y_pred, proba, task)})  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(REFERENCE_SAMPLE_ARTIFACT).name
        sample.to_parquet(path, index=False)
        mlflow.log_artifact(str(path), artifact_path=str(Path(REFERENCE_SAMPLE_ARTIFACT).parent))


def _signature(pipeline: Any, example: pd.DataFrame, numeric: tuple[str, ...]) -> Any:
    """The model signature a consumer's data must meet, from the training rows, with the
    numeric features declared `Any`.

    validated_data casts numeric features to float, but the source holds integers too (an
    `age` column): MLflow's schema enforcement refuses int64 for a `double` column and float
    (an int column with a missing value) for a `long` one, so any declared numeric type
    refuses one of the two that pandas reads from the same source. `Any` still requires the
    column by name; the pipeline's imputer and scaler take either.
    """
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    inferred = infer_signature(example, pipeline.predict(example))
    numeric_names = set(numeric)
    inputs = Schema(
        [
            ColSpec(AnyType(), spec.name) if spec.name in numeric_names else spec
            for spec in inferred.inputs.inputs
        ]
    )
    return ModelSignature(inputs=inputs, outputs=inferred.outputs)


def _pip_requirements() -> list[str]:
    # Stated, not inferred: MLflow's inference starts a subprocess that imports the model and
    # costs seconds per run.
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "skops", "pandas", "numpy")]
