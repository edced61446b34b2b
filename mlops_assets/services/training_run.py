"""A training run logged to MLflow through the registry resource's client: parameters,
metrics, text artefacts, the drift reference and the model, in one run that ends FINISHED (or
FAILED when logging raises). No fluent `mlflow.*` call: nothing process-wide is set."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_assets.contracts import (
    REFERENCE_PROFILE_ARTIFACT,
    REFERENCE_SAMPLE_ARTIFACT,
    SCORE_COLUMN,
)
from mlops_assets.domain.training import SKOPS_TRUSTED_TYPES, predict_frame, prediction_score
from mlops_assets.resources.mlflow_registry import MlflowRegistry

if TYPE_CHECKING:
    import pandas as pd

# Rows of the validation split kept with their scores as the drift report's reference sample.
REFERENCE_SAMPLE_ROWS = 5000


def log_training_run(
    registry: MlflowRegistry,
    *,
    experiment_id: str,
    run_name: str,
    tags: dict[str, str],
    params: dict[str, Any],
    metrics: dict[str, float],
    texts: dict[str, str],
    pipeline: Any,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
    task: str,
    input_types: dict[str, str] | None = None,
    files: dict[str, bytes] | None = None,
) -> tuple[str, str]:
    """Log one training run and its model; returns the run id and the model's URI.

    `texts` maps artefact file names to their content; `train` holds the feature columns of
    the training rows (the drift profile and the model's input example come from them),
    `validation` those of the validation split (the reference sample and its scores).
    `input_types` is the schema contract's type of each feature (input_contract.py): the
    signature declares those, not what this window's storage happened to give.
    `files` maps artefact paths to binary content (the regressor's loss model).
    """
    with registry.training_run(experiment_id, run_name=run_name, tags=tags) as run_id:
        _log_run(registry, run_id, params, metrics, texts)
        _log_files(registry, run_id, files or {})
        _log_reference(registry, run_id, pipeline, train, validation, numeric, categorical, task)
        example = train.head(5)
        model_uri = registry.log_sklearn_model(
            run_id,
            pipeline,
            signature=_signature(pipeline, example, numeric, input_types or {}),
            input_example=example,
            skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
            pip_requirements=_pip_requirements(),
        )
    return run_id, model_uri


def log_refit_model(
    registry: MlflowRegistry,
    run_id: str,
    pipeline: Any,
    *,
    example: pd.DataFrame,
    numeric: tuple[str, ...],
    input_types: dict[str, str],
    rows: int,
) -> str:
    """Log a refit of the run's pipeline (training.refit_on_window) as a second model of the
    same run, with the same signature rules; its URI. The run's param `refit_rows` says how
    many rows it saw."""
    from mlflow.entities import Param

    registry.client().log_batch(run_id, params=[Param("refit_rows", str(rows))])
    return registry.log_sklearn_model(
        run_id,
        pipeline,
        signature=_signature(pipeline, example, numeric, input_types),
        input_example=example,
        skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
        pip_requirements=_pip_requirements(),
    )


def _log_run(
    registry: MlflowRegistry,
    run_id: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    texts: dict[str, str],
) -> None:
    """The run's parameters, metrics and text artefacts (file name -> content)."""
    import time

    from mlflow.entities import Metric, Param

    now_ms = int(time.time() * 1000)
    client = registry.client()
    client.log_batch(
        run_id,
        metrics=[Metric(key, float(value), now_ms, 0) for key, value in metrics.items()],
        params=[Param(key, str(value)) for key, value in params.items()],
    )
    for artifact_file, text in texts.items():
        client.log_text(run_id, text, artifact_file)


def _log_files(registry: MlflowRegistry, run_id: str, files: dict[str, bytes]) -> None:
    client = registry.client()
    for artifact_path, content in files.items():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(artifact_path).name
            path.write_bytes(content)
            client.log_artifact(run_id, str(path), artifact_path=str(Path(artifact_path).parent))


def _log_reference(
    registry: MlflowRegistry,
    run_id: str,
    pipeline: object,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
    task: str,
) -> None:
    """Reference statistics for drift, computed once per model version from its training rows
    (not every day), plus a row sample with the model's scores for prediction drift and the
    human-facing report. The sample is of the validation split: scores on rows the model never
    fitted, like the day's. In-sample scores on training rows are more confident than any
    day's, so prediction drift fired every day, clean days included (issue 15, item 5)."""
    # scipy (through the drift module) loads only in runs, not with the code location.
    import pandas as pd

    from mlops_assets.domain.drift import build_reference_profile

    client = registry.client()
    profile = build_reference_profile(train, numeric, categorical)
    client.log_text(run_id, profile.to_json(), REFERENCE_PROFILE_ARTIFACT)
    held_out = validation if len(validation) else train
    scored = held_out.sample(n=min(len(held_out), REFERENCE_SAMPLE_ROWS), random_state=0)
    y_pred, proba, _ = predict_frame(pipeline, scored, task)  # type: ignore[arg-type]
    scored = scored.assign(**{SCORE_COLUMN: prediction_score(y_pred, proba, task)})  # type: ignore[arg-type]
    # evidently's report compares the day with the training rows too (a few hundred validation
    # rows alone made its uncorrected per-column tests call clean days drifted); those rows
    # carry no score, so prediction drift reads the out-of-sample scores only.
    fitted = train.sample(n=min(len(train), REFERENCE_SAMPLE_ROWS), random_state=0)
    sample = pd.concat([fitted, scored], ignore_index=True) if len(validation) else scored
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(REFERENCE_SAMPLE_ARTIFACT).name
        sample.to_parquet(path, index=False)
        client.log_artifact(
            run_id, str(path), artifact_path=str(Path(REFERENCE_SAMPLE_ARTIFACT).parent)
        )


def _signature(
    pipeline: Any, example: pd.DataFrame, numeric: tuple[str, ...], input_types: dict[str, str]
) -> Any:
    """The model signature a consumer's data must meet: the contract's type of each feature
    (else the training rows'), with the numeric features declared `Any`.

    validated_data casts numeric features to float, but the source holds integers too (an
    `age` column): MLflow's schema enforcement refuses int64 for a `double` column and float
    (an int column with a missing value) for a `long` one, so any declared numeric type
    refuses one of the two that pandas reads from the same source. `Any` still requires the
    column by name; the pipeline's imputer takes either.
    """
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import DataType
    from mlflow.types.schema import AnyType, ColSpec, Schema

    inferred = infer_signature(example, pipeline.predict(example))
    numeric_names = set(numeric)

    def declared(spec: Any) -> Any:
        # Every feature is required: the pipeline selects each by name, and MLflow's inference
        # calls a column optional when the 5-row example happens to hold a null in it, which
        # made the same column optional in one version and required in the next.
        contract = input_types.get(spec.name)
        if spec.name in numeric_names or contract == "any":
            return ColSpec(AnyType(), spec.name)
        if contract:
            return ColSpec(DataType[contract], spec.name)
        return ColSpec(spec.type, spec.name)

    inputs = Schema([declared(spec) for spec in inferred.inputs.inputs])
    return ModelSignature(inputs=inputs, outputs=inferred.outputs)


def _pip_requirements() -> list[str]:
    # Stated, not inferred: MLflow's inference starts a subprocess that imports the model and
    # costs seconds per run.
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "skops", "pandas", "numpy")]
