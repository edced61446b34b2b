"""Daily monitoring: scoring_data -> batch_predictions -> drift_report, one partition per day.

Every prediction row names the model version that made it and the hash of the data that version
was trained on, so prediction -> model version -> training data can be followed.
"""

import json
import os
from dataclasses import asdict
from datetime import date
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from mlops_assets.assets.common import (
    MLFLOW_RETRY_POLICY,
    MONITORING_GROUP,
    OWNER,
    failure,
    failure_cases_markdown,
    listed,
    retried_on_mlflow_outage,
)
from mlops_assets.contracts import (
    CHAMPION_ALIAS,
    REFERENCE_PROFILE_ARTIFACT,
    REFERENCE_SAMPLE_ARTIFACT,
    SCORE_COLUMN,
)
from mlops_assets.domain.data import (
    DataSourceError,
    atomic_path,
    content_hash,
    write_text_atomic,
)
from mlops_assets.domain.evaluation import markdown_table
from mlops_assets.domain.performance import PerformanceVerdict, day_performance
from mlops_assets.domain.registry import RegistryVersion
from mlops_assets.domain.schemas import (
    DatasetSchema,
    DataValidationError,
    check_scoring_batch,
    check_scoring_frame,
)
from mlops_assets.domain.training import predict_frame, prediction_score
from mlops_assets.resources.data_source import (
    ScoringDataSource,
    TrainingDataSource,
    scoring_start,
)
from mlops_assets.resources.io_managers import asset_path
from mlops_assets.resources.mlflow_registry import MlflowRegistry, ModelArtifactError
from mlops_assets.resources.project import ProjectStorage

# The first day that can be scored; partitions are fixed when the code location loads.
daily_partitions = dg.DailyPartitionsDefinition(start_date=scoring_start(os.environ))

# Keys of the Parquet footer metadata of every predictions file.
MODEL_NAME_KEY = "mlops.model_name"
MODEL_VERSION_KEY = "mlops.model_version"
TRAINING_DATA_HASH_KEY = "mlops.training_data_hash"


SCORING_CHECK = "scoring_data_conforms"


@dg.asset(
    partitions_def=daily_partitions,
    group_name=MONITORING_GROUP,
    kinds={"pandas", "parquet"},
    owners=[OWNER],
    io_manager_key="parquet_io_manager",
    code_version="1",
    retry_policy=MLFLOW_RETRY_POLICY,
    check_specs=[
        dg.AssetCheckSpec(
            SCORING_CHECK,
            asset="scoring_data",
            blocking=True,
            description=(
                "The day's file is readable and has the champion's feature columns with their "
                "types, no infinities and no feature left all empty. Unseen categories, extra "
                "columns and unusual null shares are reported, not failed."
            ),
        )
    ],
    description=(
        "One day's batch to score (a daily file, a SQL table filtered on its date column, or "
        "the built-in generator with its drift scenario). Labels are kept when present. A "
        "batch the champion cannot score fails here, before anything is stored."
    ),
)
@retried_on_mlflow_outage
def scoring_data(
    context: dg.AssetExecutionContext,
    scoring_source: ScoringDataSource,
    data_source: TrainingDataSource,
    mlflow_registry: MlflowRegistry,
):
    day = date.fromisoformat(context.partition_key)
    source = scoring_source.describe(day)
    try:
        frame = scoring_source.load_day(day)
    except DataSourceError as error:
        cases = failure_cases_markdown(error.failure_cases(source))
        yield dg.AssetCheckResult(
            check_name=SCORING_CHECK,
            passed=False,
            description=str(error),
            metadata={"failure_cases": cases},
        )
        raise failure(str(error), failure_cases=cases) from error

    champion = mlflow_registry.version_by_alias(CHAMPION_ALIAS)
    report = None
    if champion is not None:
        schema = mlflow_registry.training_schema(champion.run_id)
        try:
            report = check_scoring_batch(frame, schema, source)
        except DataValidationError as error:
            # Nothing is stored: a bad day never reaches predictions or a retraining window,
            # and an earlier good version of this partition stays as it was.
            cases = failure_cases_markdown(error.failure_cases)
            yield dg.AssetCheckResult(
                check_name=SCORING_CHECK,
                passed=False,
                description=str(error),
                metadata={
                    "failure_cases": cases,
                    "champion_version": dg.MetadataValue.text(champion.version),
                },
            )
            raise failure(str(error), failure_cases=cases) from error

    labelled = data_source.target_column in frame.columns
    yield dg.Output(
        frame,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(frame)),
            "labelled": dg.MetadataValue.bool(labelled),
            "source": dg.MetadataValue.text(source),
            "content_hash": dg.MetadataValue.text(content_hash(frame)),
        },
    )
    if report is None:
        # Stored all the same (it is the day's data); batch_predictions says what to do.
        yield dg.AssetCheckResult(
            check_name=SCORING_CHECK,
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{mlflow_registry.model_name} has no champion to check the batch against.",
        )
        return
    unseen = report.unseen_categories
    yield dg.AssetCheckResult(
        check_name=SCORING_CHECK,
        passed=True,
        metadata={
            "champion_version": dg.MetadataValue.text(champion.version),
            "extra_columns_ignored": dg.MetadataValue.text(listed(report.extra_columns)),
            "extra_columns": dg.MetadataValue.int(len(report.extra_columns)),
            "unseen_category_rows": dg.MetadataValue.int(int(unseen["rows"].sum())),
            "unseen_categories": dg.MetadataValue.md(
                markdown_table(unseen.head(50).astype(str)) if len(unseen) else "none"
            ),
            # Scored all the same: values beyond what training saw are drift evidence.
            "rows_outside_expectations": dg.MetadataValue.int(report.rows_outside_expectations),
            "outside_expectations": dg.MetadataValue.md(
                markdown_table(report.outside_expectations.astype(str))
                if len(report.outside_expectations)
                else "none"
            ),
            "null_shares_above_training": dg.MetadataValue.text(
                ", ".join(f"{k} {v:.0%}" for k, v in report.null_shares_above_budget.items())
                or "none"
            ),
        },
    )


class ScoringConfig(dg.Config):
    chunk_rows: int = 100_000
    """Rows read, scored and written at a time: memory stays bounded for any file size."""


@dg.asset(
    partitions_def=daily_partitions,
    # The champion is chosen at run time, through the registry; the edge shows that lineage
    # (prediction -> registered model version) in the asset graph.
    deps=[scoring_data, dg.AssetKey("registered_model_version")],
    group_name=MONITORING_GROUP,
    kinds={"scikit-learn", "parquet", "mlflow"},
    owners=[OWNER],
    code_version="1",
    retry_policy=MLFLOW_RETRY_POLICY,
    description=(
        "The day scored by the model version holding the `champion` alias at run time (its "
        "artefact's SHA-256 verified first), read and scored in chunks, written atomically. "
        "Every row and the file's metadata name the model version and its training data hash."
    ),
)
@retried_on_mlflow_outage
def batch_predictions(
    context: dg.AssetExecutionContext,
    config: ScoringConfig,
    mlflow_registry: MlflowRegistry,
    data_source: TrainingDataSource,
) -> dg.MaterializeResult:
    import pyarrow as pa
    import pyarrow.parquet as pq

    champion = mlflow_registry.version_by_alias(CHAMPION_ALIAS)
    if champion is None:
        raise failure(
            f"{mlflow_registry.model_name} has no `champion` version; run training_job first."
        )
    schema = mlflow_registry.training_schema(champion.run_id)
    try:
        model = mlflow_registry.load_model(champion.version)
    except ModelArtifactError as error:
        raise failure(str(error)) from error
    training_hash = champion.tags.get("data_hash", "unknown")
    source_path = asset_path(dg.AssetKey("scoring_data"), context.partition_key)
    source = pq.ParquetFile(source_path)
    # scoring_data checked the batch against the champion of its own step; the champion may
    # have changed since, so the columns are checked again (on an empty frame with the file's
    # types) against the model actually loaded, before any row is scored.
    try:
        extra = check_scoring_frame(
            source.schema_arrow.empty_table().to_pandas(), schema, str(source_path)
        )
    except DataValidationError as error:
        raise failure(str(error)) from error
    features = schema.feature_columns
    target = schema.target if schema.target in source.schema_arrow.names else None
    # Ids travel with every prediction: labels that arrive later join on them, and each
    # prediction traces back to its input row.
    ids = [c for c in schema.id_columns if c in source.schema_arrow.names]

    output = asset_path(dg.AssetKey("batch_predictions"), context.partition_key)
    footer = {
        MODEL_NAME_KEY: mlflow_registry.model_name,
        MODEL_VERSION_KEY: champion.version,
        TRAINING_DATA_HASH_KEY: training_hash,
    }
    rows, score_sum = 0, 0.0
    with atomic_path(output) as tmp:
        writer: Any = None
        try:
            # Only the columns the model needs are read: a 1,000-column file costs its features.
            needed = [*ids, *features, *([target] if target else [])]
            for batch in source.iter_batches(batch_size=config.chunk_rows, columns=needed):
                chunk = batch.to_pandas()
                y_pred, proba, _ = predict_frame(model, chunk[features], schema.task)
                scores = prediction_score(y_pred, proba, schema.task)
                scored = pd.DataFrame(
                    {
                        **{name: chunk[name].to_numpy() for name in ids},
                        "row": np.arange(rows, rows + len(chunk)),
                        "prediction": y_pred,
                        SCORE_COLUMN: scores,
                        "model_version": champion.version,
                        "training_data_hash": training_hash,
                    }
                )
                if target is not None:
                    scored[schema.target] = chunk[schema.target].to_numpy()
                table = pa.Table.from_pandas(scored, preserve_index=False)
                if writer is None:
                    table_schema = table.schema.with_metadata(
                        {**(table.schema.metadata or {}), **footer}
                    )
                    writer = pq.ParquetWriter(tmp, table_schema)
                writer.write_table(table.cast(writer.schema))
                rows += len(chunk)
                score_sum += float(scores.sum())
        finally:
            if writer is not None:
                writer.close()
    context.log.info(f"scored {rows} rows with {mlflow_registry.model_name} v{champion.version}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(rows),
            "model_version": dg.MetadataValue.text(champion.version),
            "training_data_hash": dg.MetadataValue.text(training_hash),
            "mean_score": dg.MetadataValue.float(score_sum / rows if rows else float("nan")),
            "extra_columns_ignored": dg.MetadataValue.text(listed(tuple(extra))),
            "extra_columns": dg.MetadataValue.int(len(extra)),
            "path": dg.MetadataValue.path(str(output)),
            "mlflow_model_version": dg.MetadataValue.url(
                mlflow_registry.version_url(champion.version)
            ),
        }
    )


class DriftReportConfig(dg.Config):
    evidently_html: bool = True
    """Also draw evidently's HTML report (slower: evidently imports in ~12 s)."""
    min_effect: float = 0.01
    """The smallest performance drop that counts: accuracy points for a classifier (0.01 = one
    point), a relative RMSE rise for a regressor (0.01 = 1 %). A drop counts only when it is
    also beyond noise (see domain/performance.py)."""
    confidence: float = 0.95
    """Level of the intervals of the day's metric, the champion's, and their difference."""


@dg.asset(
    partitions_def=daily_partitions,
    deps=[scoring_data, batch_predictions],
    group_name=MONITORING_GROUP,
    kinds={"numpy", "scipy", "evidently"},
    owners=[OWNER],
    code_version="1",
    retry_policy=MLFLOW_RETRY_POLICY,
    description=(
        "The day compared with the training data of the model that scored it: per-feature "
        "tests (KS / Wasserstein, chi-square / Jensen-Shannon, PSI) with false-alarm control, "
        "prediction drift, performance on labels, and a dataset-level severity. evidently "
        "draws the HTML report for people; our vectorised engine decides."
    ),
)
@retried_on_mlflow_outage
def drift_report(
    context: dg.AssetExecutionContext,
    config: DriftReportConfig,
    mlflow_registry: MlflowRegistry,
    storage: ProjectStorage,
) -> dg.MaterializeResult:
    import pyarrow.parquet as pq

    from mlops_assets.domain.drift import (
        DriftConfig,
        ReferenceProfile,
        compute_drift,
        prediction_drift,
    )

    partition = context.partition_key
    predictions_path = asset_path(dg.AssetKey("batch_predictions"), partition)
    footer = pq.read_schema(predictions_path).metadata or {}
    version = footer.get(MODEL_VERSION_KEY.encode(), b"").decode()
    if not version:
        raise failure(f"{predictions_path}: no model version in the file; re-run scoring.")
    model_version = mlflow_registry.version(version)
    run_id = model_version.run_id
    schema = mlflow_registry.training_schema(run_id)
    profile = ReferenceProfile.from_json(
        mlflow_registry.run_artifact(run_id, REFERENCE_PROFILE_ARTIFACT).read_text("utf-8")
    )
    current = pd.read_parquet(asset_path(dg.AssetKey("scoring_data"), partition))
    predictions = pd.read_parquet(predictions_path)
    reference_sample = pd.read_parquet(
        mlflow_registry.run_artifact(run_id, REFERENCE_SAMPLE_ARTIFACT)
    )

    drift = compute_drift(profile, current[schema.feature_columns], DriftConfig())
    score_drift = prediction_drift(
        reference_sample[SCORE_COLUMN].to_numpy(), predictions[SCORE_COLUMN].to_numpy()
    )
    performance = _performance(schema, predictions, model_version, config, mlflow_registry)

    report_dir = storage.path("reports", "drift", f"{partition}.json").parent
    table = drift.to_frame()
    summary = {
        "partition": partition,
        "model_version": version,
        "drifted_share": drift.drifted_share,
        "severity": drift.severity,
        "dataset_drift": drift.dataset_drift,
        "prediction_drift": bool(score_drift.drifted),
        "performance": asdict(performance),
        "features": json.loads(table.to_json(orient="records")),
    }
    write_text_atomic(json.dumps(summary, indent=2), report_dir / f"{partition}.json")

    metadata: dict[str, Any] = {
        "drifted_share": dg.MetadataValue.float(drift.drifted_share),
        "severity": dg.MetadataValue.text(drift.severity),
        "dataset_drift": dg.MetadataValue.bool(drift.dataset_drift),
        "drifted_features": dg.MetadataValue.int(sum(f.drifted for f in drift.features)),
        "prediction_psi": dg.MetadataValue.float(score_drift.psi),
        "prediction_drift": dg.MetadataValue.bool(bool(score_drift.drifted)),
        "model_version": dg.MetadataValue.text(version),
        "features": dg.MetadataValue.md(markdown_table(table)),
        "report_json": dg.MetadataValue.path(str(report_dir / f"{partition}.json")),
        **{key: _metadata_value(value) for key, value in performance.to_metadata().items()},
    }
    metadata.update(_last_retraining(context.instance))
    if config.evidently_html:
        from mlops_assets.domain.evidently_report import evidently_drift

        html = report_dir / f"{partition}.html"
        evidently_drift(
            reference_sample[schema.feature_columns],
            current[schema.feature_columns],
            schema.numeric_features,
            schema.categorical_features,
            html_path=html,
        )
        metadata["evidently_report"] = dg.MetadataValue.url(html.as_uri())
    context.log.info(
        f"{partition}: drifted share {drift.drifted_share:.2f}, severity {drift.severity}, "
        f"{performance.reason}"
    )
    return dg.MaterializeResult(metadata=metadata)


def _performance(
    schema: DatasetSchema,
    predictions: pd.DataFrame,
    model_version: RegistryVersion,
    config: DriftReportConfig,
    registry: MlflowRegistry,
) -> PerformanceVerdict:
    """The day's accuracy (RMSE for regression) on its labels, judged against the champion's
    test figure and both figures' noise (domain.performance)."""
    metric = "rmse" if schema.task == "regression" else "accuracy"
    labels = (
        predictions[schema.target]
        if schema.target in predictions.columns
        else pd.Series(np.nan, index=predictions.index)
    )
    reference = model_version.tags.get(f"metric.test_{metric}")
    reference_n = None
    if reference is not None and labels.notna().any():
        # The test split's size is a parameter of the version's training run.
        n_test = registry.client().get_run(model_version.run_id).data.params.get("n_test")
        reference_n = int(n_test) if n_test else None
    return day_performance(
        schema.task,
        labels,
        predictions["prediction"],
        reference_value=None if reference is None else float(reference),
        reference_n=reference_n,
        min_effect=config.min_effect,
        confidence=config.confidence,
    )


def _last_retraining(instance: dg.DagsterInstance) -> dict[str, dg.MetadataValue]:
    """The latest retraining run and how it ended, beside the verdict that may call for the
    next one: a failed retraining shows on the day's report, not only on the sensor's tick."""
    # Imported here: the sensor module imports the jobs, which import this module.
    from mlops_assets.sensors import retraining_attempts

    latest = retraining_attempts(instance, limit=1)
    if not latest:
        return {}
    attempt = latest[0]
    window = (
        f"window {attempt.window_start}..{attempt.window_end}"
        if attempt.window_end
        else "the configured training source"
    )
    return {
        "last_retraining": dg.MetadataValue.text(
            f"run {attempt.run_id} {attempt.status} ({window})"
        ),
        "last_retraining_failed": dg.MetadataValue.bool(attempt.status == "failed"),
    }


def _metadata_value(value: float | int | bool | str) -> dg.MetadataValue:
    if isinstance(value, bool):
        return dg.MetadataValue.bool(value)
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    return dg.MetadataValue.text(value)
