"""drift_report: the scored day judged against the training data of the model that scored it."""

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from mlops_assets.contracts import (
    DAGSTER_RUN_ID_TAG,
    DATA_QUALITY_CHECK,
    DRIFT_CHECK,
    DRIFT_SEVERITY_TAG,
    EVIDENTLY_REPORT_ARTIFACT,
    EVIDENTLY_REPORT_JOB,
    MODEL_VERSION_KEY,
    MONITORING_MODEL_VERSION_TAG,
    MONITORING_PARTITION_TAG,
    REFERENCE_PROFILE_ARTIFACT,
    REFERENCE_SAMPLE_ARTIFACT,
    SCORE_COLUMN,
)
from mlops_assets.defs.common import DataFrame, failure, retried_on_mlflow_outage
from mlops_assets.defs.model_resources import model_of
from mlops_assets.defs.monitoring.jobs import DAILY_MONITORING_OP
from mlops_assets.defs.monitoring.partitions import check_result, daily_check_spec, daily_spec
from mlops_assets.defs.monitoring.steps import daily_step
from mlops_assets.defs.retraining.runs import retraining_attempts
from mlops_assets.domain.data import write_text_atomic
from mlops_assets.domain.evaluation import markdown_table
from mlops_assets.domain.health import data_quality_health, drift_day_health
from mlops_assets.domain.performance import is_labelled, performance_metric
from mlops_assets.domain.retraining import last_retraining_summary
from mlops_assets.domain.schemas import DatasetSchema
from mlops_assets.domain.verdicts import DriftVerdict, Severity
from mlops_assets.resources.io_managers import StoredParquetFile
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.resources.project import ProjectStorage

if TYPE_CHECKING:  # scipy stays out of the code location's load
    from mlops_assets.domain.data_quality import DataQualityResult


class DriftReportConfig(dg.Config):
    evidently_html: bool | None = None
    """evidently's HTML report, for people; the verdict never depends on it. Unset: drawn on a
    day whose severity is warning or critical only (evidently's import and preset cost seconds
    a run, and the report is megabytes a day); true: drawn on any day (evidently_report_job
    draws it for a chosen day); false: never."""
    evidently_max_rows: int = 5000
    """At most this many of the day's rows (a fixed random sample) go into evidently's report,
    as many as the training run's reference sample: its time and size grow with the rows."""
    min_effect: float = 0.01
    """The smallest performance drop that counts: accuracy points for a classifier (0.01 = one
    point), a relative RMSE rise for a regressor (0.01 = 1 %). A drop counts only when it is
    also beyond noise (see domain/performance.py)."""
    confidence: float = 0.95
    """Level of the intervals of the day's metric, the champion's, and their difference."""


SPEC = daily_spec(
    "drift_report",
    "The day compared with the training data of the model that scored it: per-feature tests "
    "(KS / Wasserstein, chi-square / Jensen-Shannon, PSI) with false-alarm control, prediction "
    "drift, performance on labels, and a dataset-level severity. evidently draws the HTML "
    "report for people; our vectorised engine decides.",
    kinds={"numpy", "scipy", "evidently"},
)
CHECK = daily_check_spec(
    DRIFT_CHECK,
    "drift_report",
    "Yellow (WARN) on a drift warning (a feature drifted, or a feature's missing or "
    "unseen-category share rose beyond noise, named after 'data-quality drift:') or on "
    "prediction drift, red (ERROR) on critical drift or a performance drop beyond noise. "
    "Never blocks: scoring goes on, and drift_retraining_sensor decides about retraining.",
)
DATA_QUALITY_CHECK_SPEC = daily_check_spec(
    DATA_QUALITY_CHECK,
    "drift_report",
    "The day's data against the training rows: yellow (WARN) when a feature's missing share or "
    "share of categories training never had rose beyond noise, or when 1 % or more of the rows "
    "are duplicated; red (ERROR) when a quarter of a column's values (or of the rows) is hit. "
    "Names the column and the share. Never blocks. The missing and unseen findings are also "
    "the day's drift severity (drift_within_bounds); duplicated rows only here: fix the feed.",
)


@daily_step(SPEC, CHECK, DATA_QUALITY_CHECK_SPEC)
@retried_on_mlflow_outage
def drift_report(
    context: dg.AssetExecutionContext,
    partition: str,
    config: DriftReportConfig,
    mlflow_registry: MlflowRegistry,
    storage: ProjectStorage,
    scoring_data: DataFrame,
    batch_predictions: StoredParquetFile,
) -> dg.MaterializeResult:
    import pandas as pd

    from mlops_assets.domain.drift import ReferenceProfile
    from mlops_assets.domain.monitoring import assess_day

    footer = batch_predictions.schema_arrow.metadata or {}
    version = footer.get(MODEL_VERSION_KEY.encode(), b"").decode()
    if not version:
        raise failure(f"{batch_predictions.path}: no model version in the file; re-run scoring.")
    model_version = mlflow_registry.version(version)
    run_id = model_version.run_id
    schema = mlflow_registry.training_schema(run_id)
    profile = ReferenceProfile.from_json(
        mlflow_registry.run_artifact(run_id, REFERENCE_PROFILE_ARTIFACT).read_text("utf-8")
    )
    predictions = batch_predictions.read().to_pandas()
    reference_sample = pd.read_parquet(
        mlflow_registry.run_artifact(run_id, REFERENCE_SAMPLE_ARTIFACT)
    )
    reference = model_version.tags.get(f"metric.test_{performance_metric(schema.task)}")
    reference_n = None
    if reference is not None and is_labelled(predictions, schema.target):
        # The test split's size is a parameter of the version's training run.
        n_test = mlflow_registry.client().get_run(run_id).data.params.get("n_test")
        reference_n = int(n_test) if n_test else None
    assessment = assess_day(
        date.fromisoformat(partition),
        version,
        schema,
        profile,
        scoring_data,
        predictions,
        reference_sample[SCORE_COLUMN].dropna().to_numpy(),
        score_column=SCORE_COLUMN,
        reference_value=None if reference is None else float(reference),
        reference_n=reference_n,
        min_effect=config.min_effect,
        confidence=config.confidence,
    )
    verdict = assessment.verdict

    names = model_of(context)
    # A declared model's reports in its own folder (reports/car_loan/drift/); the default
    # model's where an existing home has them.
    folder = ("reports", names.model, "drift") if names.model else ("reports", "drift")
    report_json = storage.path(*folder, f"{partition}.json")
    write_text_atomic(assessment.report_json(), report_json)
    latest = retraining_attempts(context.instance, limit=1, names=names)
    quality = assessment.data_quality
    features = assessment.features
    unjudged = features.loc[features["insufficient_data"], ["feature", "current_n"]]
    metadata: dict[str, Any] = {
        **verdict.to_metadata(),
        **_data_quality_metadata(quality),
        "features": dg.MetadataValue.md(markdown_table(features)),
        # Too few values to judge: reported as such, never counted as drift (issue 29).
        "insufficient_data": dg.MetadataValue.text(
            ", ".join(f"{r.feature} ({r.current_n} values)" for r in unjudged.itertuples())
            or "none"
        ),
        "report_json": dg.MetadataValue.path(str(report_json)),
        **last_retraining_summary(latest[0] if latest else None),
    }
    metadata.update(
        _log_monitoring_run(
            context,
            partition,
            mlflow_registry,
            verdict,
            reference_sample,
            scoring_data,
            schema,
            report_json,
            config,
            extra_metrics=_data_quality_metrics(quality),
        )
    )
    context.log.info(
        f"{partition}: drifted share {verdict.drifted_share:.2f}, severity {verdict.severity}, "
        f"{verdict.performance.reason}"
    )
    check = check_result(
        DRIFT_CHECK,
        drift_day_health(verdict),
        severity=dg.MetadataValue.text(verdict.severity.value),
        drifted_share=dg.MetadataValue.float(verdict.drifted_share),
        performance_dropped=dg.MetadataValue.bool(verdict.performance.dropped),
    )
    quality_check = check_result(
        DATA_QUALITY_CHECK,
        data_quality_health(quality),
        **_data_quality_metadata(quality),
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check, quality_check])


def _data_quality_metrics(quality: "DataQualityResult") -> dict[str, float]:
    """The day's data-quality figures as numbers that plot over partitions (and MLflow metrics)."""
    return {
        "max_missing_share_rise": round(quality.max_missing_share_rise, 4),
        "max_unseen_category_share": round(quality.max_unseen_category_share, 4),
        "duplicate_rows": float(quality.duplicate_rows),
        "duplicate_share": round(quality.duplicate_share, 4),
        "data_quality_flagged_features": float(quality.flagged_features),
    }


def _data_quality_metadata(quality: "DataQualityResult") -> dict[str, dg.MetadataValue]:
    figures = _data_quality_metrics(quality)
    return {
        "data_quality_severity": dg.MetadataValue.text(quality.severity.value),
        "data_quality": dg.MetadataValue.text(quality.summary),
        "max_missing_share_rise": dg.MetadataValue.float(figures["max_missing_share_rise"]),
        "max_unseen_category_share": dg.MetadataValue.float(figures["max_unseen_category_share"]),
        "duplicate_rows": dg.MetadataValue.int(quality.duplicate_rows),
        "duplicate_share": dg.MetadataValue.float(figures["duplicate_share"]),
        "duplicate_key": dg.MetadataValue.text(quality.duplicate_key),
        "extra_columns": dg.MetadataValue.text(", ".join(quality.extra_columns) or "none"),
    }


def _log_monitoring_run(
    context: dg.AssetExecutionContext,
    partition: str,
    mlflow_registry: MlflowRegistry,
    verdict: DriftVerdict,
    reference_sample: DataFrame,
    scoring_data: DataFrame,
    schema: DatasetSchema,
    report_json: Path,
    config: DriftReportConfig,
    extra_metrics: dict[str, float],
) -> dict[str, Any]:
    """The day's MLflow run beside the model's training runs (figures, severity, evidently's
    HTML), and the metadata that links to it. evidently's headline uses our dataset rule
    (DriftConfig.critical_share), so it says "detected" exactly when our severity is critical."""
    from mlops_assets.domain.drift import DriftConfig

    html = None
    draw = (
        verdict.severity != Severity.NONE
        if config.evidently_html is None
        else config.evidently_html
    )
    if draw:
        from mlops_assets.domain.evidently_report import evidently_drift

        html = report_json.with_suffix(".html")
        current = scoring_data[schema.feature_columns]
        if len(current) > config.evidently_max_rows:
            current = current.sample(n=config.evidently_max_rows, random_state=0)
        evidently_drift(
            reference_sample[schema.feature_columns],
            current,
            schema.numeric_features,
            schema.categorical_features,
            html_path=html,
            drift_share=DriftConfig().critical_share,
        )
    version = verdict.model_version
    experiment_id, run_id = mlflow_registry.log_monitoring_run(
        f"drift {partition} v{version}",
        tags={
            MONITORING_PARTITION_TAG: partition,
            MONITORING_MODEL_VERSION_TAG: version,
            DAGSTER_RUN_ID_TAG: context.run.run_id,
            DRIFT_SEVERITY_TAG: verdict.severity.value,
        },
        metrics={**verdict.to_mlflow_metrics(), **extra_metrics},
        report_html=html,
    )
    metadata: dict[str, Any] = {
        "mlflow_monitoring_run": dg.MetadataValue.url(
            mlflow_registry.run_url(experiment_id, run_id)
        ),
    }
    if html is not None:
        metadata["evidently_report"] = dg.MetadataValue.url(
            mlflow_registry.artifact_url(experiment_id, run_id, EVIDENTLY_REPORT_ARTIFACT)
        )
        metadata["evidently_report_file"] = dg.MetadataValue.path(str(html))
    else:
        reason = (
            "its config evidently_html is false"
            if config.evidently_html is False
            else f"the day's severity is {verdict.severity}"
        )
        names = model_of(context)  # the job and op named are the model's own
        metadata["evidently_report"] = dg.MetadataValue.text(
            f"not drawn: {reason}. To draw it for this day, launch "
            f"{names.job(EVIDENTLY_REPORT_JOB)} for partition {partition} (or materialize "
            f"drift_report with the config {names.job(DAILY_MONITORING_OP)}: drift_report: "
            "evidently_html: true)."
        )
    return metadata
