"""labels and realized_performance: the day's delayed labels, and the metrics they reveal."""

from datetime import date
from typing import Any, cast

import dagster as dg

from mlops_assets.contracts import (
    MODEL_VERSION_KEY,
    REALIZED_CHECK,
)
from mlops_assets.defs.common import (
    DataFrame,
    failure,
    failure_cases_markdown,
    retried_on_mlflow_outage,
)
from mlops_assets.defs.monitoring.partitions import check_result, daily_check_spec, daily_spec
from mlops_assets.defs.monitoring.steps import daily_step
from mlops_assets.domain.data import DataSourceError, content_hash
from mlops_assets.domain.health import realized_health
from mlops_assets.domain.schemas import DatasetSchema
from mlops_assets.domain.verdicts import EstimatedVerdict, RealizedVerdict
from mlops_assets.resources.data_source import LabelsDataSource
from mlops_assets.resources.io_managers import StoredParquetFile
from mlops_assets.resources.mlflow_registry import MlflowRegistry


def scoring_schema(
    mlflow_registry: MlflowRegistry, batch_predictions: StoredParquetFile
) -> DatasetSchema:
    footer = batch_predictions.schema_arrow.metadata or {}
    version = footer.get(MODEL_VERSION_KEY.encode(), b"").decode()
    if not version:
        raise failure(f"{batch_predictions.path}: no model version in the file; re-run scoring.")
    return mlflow_registry.training_schema(mlflow_registry.version(version).run_id)


LABELS_SPEC = daily_spec(
    "labels",
    "The day's labels (id columns + target), delivered late from MLOPS_LABELS_DATA or, when "
    "that is unset, the target column scored with the features. Checked against the day's "
    "predictions (ids compared by value); a redelivery replaces the stored one, a bad one fails "
    "and leaves it untouched.",
    kinds={"pandas", "parquet"},
    stored=True,
)


@daily_step(LABELS_SPEC)
@retried_on_mlflow_outage
def labels(
    context: dg.AssetExecutionContext,
    partition: str,
    labels_source: LabelsDataSource,
    mlflow_registry: MlflowRegistry,
    batch_predictions: StoredParquetFile,
) -> dg.Output[DataFrame]:
    import pandas as pd

    from mlops_assets.domain.labels import check_delivery, join_labels

    day = date.fromisoformat(partition)
    schema = scoring_schema(mlflow_registry, batch_predictions)
    ids, target = list(schema.id_columns), schema.target
    stored = set(batch_predictions.schema_arrow.names)
    source = labels_source.describe(day)
    if labels_source.with_features and not ids:
        # Labels read from the scored rows themselves: the row's position in the day is its id.
        ids = ["row"]
    try:
        if labels_source.with_features:
            delivery = (
                batch_predictions.read(columns=[*ids, target]).to_pandas()
                if target in stored
                else pd.DataFrame(columns=[*ids, target])  # a day scored without labels
            )
        else:
            delivery = labels_source.load_day(day)
        checked = check_delivery(
            delivery,
            source=source,
            id_columns=ids,
            target=target,
            task=schema.task,
            classes=schema.classes,
        )
        predictions = batch_predictions.read(
            columns=[name for name in ids if name in stored]
        ).to_pandas()
        joined = join_labels(predictions, checked, source=source, id_columns=ids, target=target)
    except DataSourceError as error:
        raise failure(
            str(error), failure_cases=failure_cases_markdown(error.failure_cases(source))
        ) from error
    metadata: dict[str, Any] = {
        "dagster/row_count": len(checked),
        "rows": len(checked),
        "matched": joined.labelled,
        "unmatched_labels": joined.unmatched_labels,
        "unlabelled_predictions": joined.unlabelled_predictions,
        "source": source,
        "content_hash": content_hash(checked),
    }
    context.log.info(
        f"{day}: {len(checked)} labels from {source}, {joined.labelled} matched, "
        f"{joined.unlabelled_predictions} predictions still unlabelled"
    )
    return dg.Output(checked, metadata=metadata)


class RealizedPerformanceConfig(dg.Config):
    min_effect: float = 0.01
    """The smallest drop that counts (as in drift_report's config)."""
    confidence: float = 0.95


REALIZED_SPEC = daily_spec(
    "realized_performance",
    "The day's predictions judged on the labels that have arrived, per scoring model version: "
    "accuracy, balanced accuracy, macro F1, ROC AUC, log loss (RMSE, MAE, R2 for a regressor) "
    "with intervals, the drop beyond noise vs the version's test figure, and the error of the "
    "label-free estimate.",
    kinds={"scikit-learn", "numpy"},
)
REALIZED_CHECK_SPEC = daily_check_spec(
    REALIZED_CHECK,
    "realized_performance",
    "Red (ERROR) when the day's labels show a performance drop beyond noise against the "
    "scoring version's test figure. Never blocks.",
)


@daily_step(REALIZED_SPEC, REALIZED_CHECK_SPEC)
@retried_on_mlflow_outage
def realized_performance(
    context: dg.AssetExecutionContext,
    partition: str,
    config: RealizedPerformanceConfig,
    mlflow_registry: MlflowRegistry,
    labels: DataFrame,
    batch_predictions: StoredParquetFile,
    estimated_performance: EstimatedVerdict | None,
) -> dg.MaterializeResult:
    """`estimated_performance` is the day's latest label-free estimate (None: none was made)."""
    estimate = estimated_performance
    import pandas as pd

    from mlops_assets.domain.data_quality import last_row_per_id
    from mlops_assets.domain.evaluation import markdown_table
    from mlops_assets.domain.labels import join_labels
    from mlops_assets.domain.performance import judge_predictions, performance_metric
    from mlops_assets.domain.realized import class_probabilities, realized_metrics

    day = date.fromisoformat(partition)
    schema = scoring_schema(mlflow_registry, batch_predictions)
    predictions = batch_predictions.read().to_pandas()
    joined = join_labels(
        predictions.drop(columns=[schema.target], errors="ignore"),
        labels,
        source=f"labels {partition}",
        # The ids labels was stored with (`row` when labels came with unidentified rows).
        id_columns=[name for name in labels.columns if name != schema.target],
        target=schema.target,
    )
    # A repeated id (a file delivered twice) is judged once, on its last row, as its label is.
    judged = last_row_per_id(joined.frame, [n for n in labels.columns if n != schema.target])
    metric = performance_metric(schema.task)
    rows, verdicts = [], {}
    for version, frame in judged.groupby("model_version", sort=True):
        registered = mlflow_registry.version(str(version))
        reference = registered.tags.get(f"metric.test_{metric}")
        n_test = mlflow_registry.client().get_run(registered.run_id).data.params.get("n_test")
        verdict = judge_predictions(
            schema.task,
            schema.target,
            frame,
            reference_value=None if reference is None else float(reference),
            reference_n=int(n_test) if n_test else None,
            min_effect=config.min_effect,
            confidence=config.confidence,
        )
        classes = list(schema.classes or [])
        figures = realized_metrics(
            schema.task,
            frame[schema.target],
            frame["prediction"],
            classes=classes,
            proba=class_probabilities(frame, classes, schema.task) if classes else None,
            confidence=config.confidence,
        )
        if verdict.day_value is not None:
            # The judged metric keeps the verdict's own interval, the one its reason quotes and
            # the alert acts on, rather than a second estimate under the same name.
            figures[verdict.metric.value] = (
                verdict.day_value,
                cast(float, verdict.day_ci_low),
                cast(float, verdict.day_ci_high),
            )
        verdicts[str(version)] = (len(frame), verdict, figures)
        rows.append(
            {
                "model_version": str(version),
                "rows": len(frame),
                "labelled": verdict.n,
                **{name: f"{v:.4g} [{lo:.4g}, {hi:.4g}]" for name, (v, lo, hi) in figures.items()},
                "dropped": verdict.dropped,
            }
        )
    # The day's headline is the version that scored most of it (one, unless it was rescored).
    version = max(verdicts, key=lambda v: verdicts[v][0])
    _, verdict, figures = verdicts[version]
    realized_value = figures.get(estimate.metric, (None,))[0] if estimate else None
    estimate_error = (
        realized_value - estimate.value
        if estimate is not None and realized_value is not None
        else None
    )
    result = RealizedVerdict(
        day=day,
        model_version=version,
        performance=verdict,
        predictions=len(joined.frame),
        unlabelled_predictions=joined.unlabelled_predictions,
        unmatched_labels=joined.unmatched_labels,
        estimate_error=estimate_error,
    )
    metadata: dict[str, Any] = dict(result.to_metadata())
    for name, (value, low, high) in figures.items():
        metadata.update({name: value, f"{name}_ci_low": low, f"{name}_ci_high": high})
    metadata["by_model_version"] = dg.MetadataValue.md(markdown_table(pd.DataFrame(rows)))
    metadata["duplicate_ids"] = dg.MetadataValue.int(len(joined.frame) - len(judged))
    context.log.info(f"{partition}: {verdict.reason}")
    check = check_result(REALIZED_CHECK, realized_health(result))
    return dg.MaterializeResult(metadata=metadata, check_results=[check])
