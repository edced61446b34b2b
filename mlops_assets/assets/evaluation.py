"""evaluation_report: metrics on the untouched test split, slices, plots, a model card, and the
current champion scored on the same rows so challenger and champion are compared fairly."""

from dataclasses import dataclass, field

import dagster as dg
import pandas as pd

from mlops_assets.assets.common import (
    MLFLOW_RETRY_POLICY,
    OWNER,
    TRAINING_GROUP,
    failure,
    retried_on_mlflow_outage,
)
from mlops_assets.domain.data import write_text_atomic
from mlops_assets.domain.evaluation import (
    PRIMARY_LOSS,
    PairedComparison,
    Predictions,
    calibration_png,
    compare_on_slices,
    compute_metrics,
    confusion_matrix_png,
    markdown_table,
    model_card_markdown,
    paired_bootstrap,
    per_row_loss,
    residuals_png,
    slice_metrics,
)
from mlops_assets.domain.schemas import DatasetSchema, compare_schemas
from mlops_assets.domain.training import TrainedModelRef, predict_frame
from mlops_assets.resources.mlflow_registry import (
    CHAMPION,
    MlflowRegistry,
    ModelArtifactError,
)
from mlops_assets.resources.project import ProjectStorage


@dataclass(frozen=True)
class ChampionComparison:
    """The champion at evaluation time, scored on the challenger's test split."""

    version: str
    schema_compatible: bool
    schema_detail: str
    metrics: dict[str, float]
    overall: PairedComparison | None
    slices: tuple[tuple[str, str, PairedComparison], ...]


class EvaluationConfig(dg.Config):
    bootstrap_resamples: int = 2000
    confidence: float = 0.95
    """Confidence level of the paired bootstrap interval of the challenger's improvement."""
    slice_min_rows: int = 50
    """Slices with fewer test rows are not compared (too noisy to judge)."""


@dataclass(frozen=True)
class EvaluationSummary:
    model: TrainedModelRef
    metrics: dict[str, float]
    champion: ChampionComparison | None
    model_card_path: str
    comparison_settings: dict[str, float] = field(default_factory=dict)
    """The EvaluationConfig used, so the gate can compare again with the same settings."""


@dg.asset(
    group_name=TRAINING_GROUP,
    kinds={"scikit-learn", "mlflow", "markdown"},
    owners=[OWNER],
    code_version="1",
    retry_policy=MLFLOW_RETRY_POLICY,
    description=(
        "Test-split metrics, per-slice metrics over every categorical feature, confusion matrix "
        "and calibration (or residual) plots, a Markdown model card, and the champion scored "
        "on the same rows with a paired bootstrap interval of the difference."
    ),
)
@retried_on_mlflow_outage
def evaluation_report(
    context: dg.AssetExecutionContext,
    config: EvaluationConfig,
    trained_model: TrainedModelRef,
    mlflow_registry: MlflowRegistry,
    storage: ProjectStorage,
) -> dg.Output[EvaluationSummary]:
    import mlflow.sklearn

    ref = trained_model
    client = mlflow_registry.client()
    test = pd.read_parquet(ref.test_split_path)
    pipeline = mlflow.sklearn.load_model(ref.model_uri)
    y_true = test[ref.target].to_numpy()
    y_pred, proba, classes = predict_frame(pipeline, test[ref.features], ref.task)
    predictions = Predictions(y_true, y_pred, proba, classes)
    metrics = compute_metrics(ref.task, predictions)
    slices = slice_metrics(
        ref.task, test, predictions, ref.categorical_features, min_rows=config.slice_min_rows
    )

    report_dir = storage.path("reports", ref.run_id, "model_card.md").parent
    if ref.task == "regression":
        plots = [residuals_png(predictions, report_dir / "residuals.png")]
    else:
        plots = [
            confusion_matrix_png(predictions, report_dir / "confusion_matrix.png"),
            calibration_png(predictions, report_dir / "calibration.png"),
        ]

    try:
        champion = _compare_with_champion(ref, test, predictions, config, mlflow_registry)
    except ModelArtifactError as error:
        raise failure(str(error)) from error
    card = model_card_markdown(
        model_name=mlflow_registry.model_name,
        task=ref.task,
        estimator=ref.estimator,
        data_hash=ref.data_hash,
        n_train=ref.n_train,
        n_test=len(test),
        features=ref.features,
        target=ref.target,
        metrics=metrics,
        slices=slices,
        champion_metrics=champion.metrics if champion else None,
        intended_use=(
            f"Predict {ref.target!r} for rows shaped like the training data; batch scoring "
            "through the Dagster pipeline, with drift monitored daily."
        ),
        limitations=[
            "Valid only for data resembling the training distribution; watch drift_report.",
            "Slices with fewer than "
            f"{config.slice_min_rows} test rows are not evaluated separately.",
        ],
        leakage=ref.leakage,
        column_roles=DatasetSchema.from_json(ref.schema_json).roles_table(),
    )
    card_path = write_text_atomic(card, report_dir / "model_card.md")
    slices_path = write_text_atomic(slices.to_csv(index=False), report_dir / "slices.csv")

    for name, value in metrics.items():
        client.log_metric(ref.run_id, f"test_{name}", value)
    for path in [*plots, card_path, slices_path]:
        client.log_artifact(ref.run_id, str(path), artifact_path="evaluation")

    metadata: dict[str, dg.MetadataValue] = {
        f"test_{k}": dg.MetadataValue.float(float(v)) for k, v in metrics.items()
    }
    metadata["model_card"] = dg.MetadataValue.md(card)
    metadata["report_dir"] = dg.MetadataValue.path(str(report_dir))
    metadata["mlflow_run"] = dg.MetadataValue.url(
        mlflow_registry.run_url(ref.experiment_id, ref.run_id)
    )
    if champion is not None:
        metadata["champion_version"] = dg.MetadataValue.text(champion.version)
        metadata["champion_vs_challenger"] = dg.MetadataValue.md(
            _comparison_markdown(metrics, champion)
        )
        if champion.overall is not None:
            metadata["improvement_vs_champion"] = dg.MetadataValue.float(
                champion.overall.improvement
            )
    summary = EvaluationSummary(
        ref, metrics, champion, str(card_path), comparison_settings=config.model_dump()
    )
    return dg.Output(summary, metadata=metadata)


def compare_with_current_champion(
    summary: EvaluationSummary, registry: MlflowRegistry
) -> ChampionComparison | None:
    """The challenger against whichever version holds `champion` now, on the challenger's own
    test rows and with the evaluation's settings: the gate's second look when the champion
    moved during the run."""
    import mlflow.sklearn

    ref = summary.model
    test = pd.read_parquet(ref.test_split_path)
    pipeline = mlflow.sklearn.load_model(ref.model_uri)
    y_pred, proba, classes = predict_frame(pipeline, test[ref.features], ref.task)
    predictions = Predictions(test[ref.target].to_numpy(), y_pred, proba, classes)
    config = EvaluationConfig(**summary.comparison_settings)
    return _compare_with_champion(ref, test, predictions, config, registry)


def _compare_with_champion(
    ref: TrainedModelRef,
    test: pd.DataFrame,
    challenger: Predictions,
    config: EvaluationConfig,
    registry: MlflowRegistry,
) -> ChampionComparison | None:
    version = registry.version_by_alias(CHAMPION)
    if version is None:
        return None
    champion_schema = registry.training_schema(version.run_id)
    diff = compare_schemas(champion_schema, DatasetSchema.from_json(ref.schema_json))
    if not diff.compatible:
        return ChampionComparison(version.version, False, str(diff), {}, None, ())
    model = registry.load_model(version.version)
    features = champion_schema.feature_columns
    y_pred, proba, classes = predict_frame(model, test[features], ref.task)
    champion_predictions = Predictions(challenger.y_true, y_pred, proba, classes)
    loss = PRIMARY_LOSS[ref.task]
    champion_loss = per_row_loss(ref.task, champion_predictions, loss)
    challenger_loss = per_row_loss(ref.task, challenger, loss)
    overall = paired_bootstrap(
        champion_loss,
        challenger_loss,
        metric=loss,
        n_resamples=config.bootstrap_resamples,
        confidence=config.confidence,
    )
    slices = compare_on_slices(
        test,
        ref.categorical_features,
        champion_loss,
        challenger_loss,
        metric=loss,
        min_rows=config.slice_min_rows,
    )
    return ChampionComparison(
        version=version.version,
        schema_compatible=True,
        schema_detail=str(diff),
        metrics=compute_metrics(ref.task, champion_predictions),
        overall=overall,
        slices=tuple(slices),
    )


def _comparison_markdown(metrics: dict[str, float], champion: ChampionComparison) -> str:
    rows = [
        {"metric": name, "challenger": value, "champion": champion.metrics.get(name)}
        for name, value in metrics.items()
    ]
    text = markdown_table(pd.DataFrame(rows))
    if champion.overall is not None:
        o = champion.overall
        text += (
            f"\n\nPaired bootstrap on {o.n} test rows, {o.metric}: improvement "
            f"{o.improvement:+.4f}, {o.confidence:.0%} CI [{o.ci_low:+.4f}, {o.ci_high:+.4f}]."
        )
    else:
        text += f"\n\nChampion not comparable: {champion.schema_detail}"
    return text
