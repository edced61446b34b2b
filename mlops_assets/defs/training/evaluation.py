"""evaluation_report: metrics on the untouched test split, slices, plots, a model card, and the
current champion scored on the same rows so challenger and champion are compared fairly; then
the same recipe refit on every labelled row of the window, the model that gets registered."""

import dagster as dg
from pydantic import Field

from mlops_assets.asset_keys import ModelNames
from mlops_assets.contracts import EVALUATION_ARTIFACT_DIR
from mlops_assets.defs.common import (
    OWNER,
    TRAINING_GROUP,
    failure,
    number,
    retried_on_mlflow_outage,
)
from mlops_assets.defs.model_resources import ModelResources, resource_keys
from mlops_assets.domain.data import write_text_atomic
from mlops_assets.domain.datasets import ValidatedDataset
from mlops_assets.domain.evaluation import (
    calibration_png,
    compute_metrics,
    confusion_matrix_png,
    markdown_table,
    model_card_markdown,
    residuals_png,
    slice_metrics,
)
from mlops_assets.domain.promotion import (
    ChampionComparison,
    ComparisonSettings,
    EvaluationSummary,
    compare_with_champion,
    predictions_on,
)
from mlops_assets.domain.schemas import DatasetSchema
from mlops_assets.domain.training import TrainedModelRef, refit_on_window, training_window
from mlops_assets.resources.mlflow_registry import ModelArtifactError
from mlops_assets.services.training_run import log_refit_model


class EvaluationConfig(ComparisonSettings, dg.Config):
    """evaluation_report's run config: how the champion is compared (ComparisonSettings), and
    whether the registered model is refit on the whole window."""

    refit_on_window: bool = Field(
        default=False,
        description=(
            "Once evaluated, refit the same pipeline on every labelled row of the window (train, "
            "validation and test) and register that refit; off (the default): register the "
            "evaluated fit itself. Off by default because the monitoring references (the "
            "calibrator and loss model of the estimates before labels, the prediction-drift "
            "reference) are the evaluated fit's, made on rows it held out; a refit has no rows "
            "held out (docs/training.md)."
        ),
    )


@retried_on_mlflow_outage
def evaluation_report(
    context: dg.AssetExecutionContext,
    config: EvaluationConfig,
    trained_model: TrainedModelRef,
    validated_data: ValidatedDataset,
) -> dg.Output[EvaluationSummary]:
    import pandas as pd

    resources = ModelResources(context)
    mlflow_registry, storage = resources.mlflow_registry, resources.storage

    ref = trained_model
    client = mlflow_registry.client()
    test = pd.read_parquet(ref.test_split_path)
    try:
        predictions = predictions_on(mlflow_registry.load_logged_model(ref.model_uri), ref, test)
    except ModelArtifactError as error:
        raise failure(str(error)) from error
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
        champion = compare_with_champion(ref, test, predictions, config, mlflow_registry)
    except ModelArtifactError as error:
        raise failure(str(error)) from error
    # Evaluated and compared: the held-out rows have done their work, so the model that is
    # registered may learn from them too.
    window_rows = validated_data.frame
    schema = DatasetSchema.from_json(ref.schema_json)
    refit_uri = ""
    if config.refit_on_window:
        refit = refit_on_window(
            window_rows,
            target=ref.target,
            numeric_features=ref.numeric_features,
            categorical_features=ref.categorical_features,
            task=ref.task,
            estimator=ref.estimator,
            params=ref.params,
            seed=ref.seed,
        )
        refit_uri = log_refit_model(
            mlflow_registry,
            ref.run_id,
            refit,
            example=window_rows[ref.features].head(5),
            numeric=ref.numeric_features,
            input_types={c.name: c.input_type for c in schema.columns if c.input_type},
            rows=len(window_rows),
        )
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
        column_roles=schema.roles_table(),
        window=ref.window,
        n_validation=ref.n_validation,
        refit_rows=len(window_rows) if refit_uri else None,
        refit_window=training_window(window_rows, schema.date_columns) if refit_uri else None,
    )
    card_path = write_text_atomic(card, report_dir / "model_card.md")
    slices_path = write_text_atomic(slices.to_csv(index=False), report_dir / "slices.csv")

    for name, value in metrics.items():
        client.log_metric(ref.run_id, f"test_{name}", value)
    for path in [*plots, card_path, slices_path]:
        client.log_artifact(ref.run_id, str(path), artifact_path=EVALUATION_ARTIFACT_DIR)

    metadata: dict[str, dg.MetadataValue] = {f"test_{k}": number(v) for k, v in metrics.items()}
    metadata["model_card"] = dg.MetadataValue.md(card)
    metadata["registered_fit"] = dg.MetadataValue.text(
        f"refit on all {len(window_rows)} rows of the window" if refit_uri else "the evaluated fit"
    )
    metadata["evaluated_fit_rows"] = dg.MetadataValue.md(
        f"train {ref.n_train}, validation {ref.n_validation}, test {len(test)} (held out)"
    )
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
            metadata["improvement_vs_champion"] = number(champion.overall.improvement)
        # test_* are on each version's own test split, so two versions' figures differ by
        # their rows as much as by their models; these two are on the same rows, comparable.
        for name, value in metrics.items():
            if name in champion.metrics:
                metadata[f"same_rows_challenger_{name}"] = number(value)
                metadata[f"same_rows_champion_{name}"] = number(float(champion.metrics[name]))
    summary = EvaluationSummary(
        ref,
        metrics,
        champion,
        str(card_path),
        comparison_settings=ComparisonSettings(**config.model_dump(exclude={"refit_on_window"})),
        refit_model_uri=refit_uri,
        refit_rows=len(window_rows) if refit_uri else 0,
    )
    return dg.Output(summary, metadata=metadata)


def _comparison_markdown(metrics: dict[str, float], champion: ChampionComparison) -> str:
    import pandas as pd

    rows = [
        {"metric": name, "challenger": value, "champion": champion.metrics.get(name)}
        for name, value in metrics.items()
    ]
    text = markdown_table(pd.DataFrame(rows))
    text += (
        "\n\nBoth columns are on this candidate's test rows (the `same_rows_*` metadata plot "
        "them over versions). The `test_*` metadata of two versions are on different test "
        "splits and do not compare."
    )
    if champion.overall is not None:
        o = champion.overall
        text += (
            f"\n\nPaired bootstrap on {o.n} test rows, {o.metric}: improvement "
            f"{o.improvement:+.4f}, {o.confidence:.0%} CI [{o.ci_low:+.4f}, {o.ci_high:+.4f}]."
        )
    else:
        text += f"\n\nChampion not comparable: {champion.schema_detail}"
    return text


def evaluation_report_asset(names: ModelNames, retry: dg.RetryPolicy) -> dg.AssetsDefinition:
    """The model's evaluation_report, its champion scored on the same test rows."""
    return dg.asset(
        key=names.evaluation_report,
        group_name=names.group(TRAINING_GROUP),
        required_resource_keys=resource_keys(names, "mlflow_registry", "storage"),
        ins={
            "trained_model": dg.AssetIn(key=names.trained_model),
            "validated_data": dg.AssetIn(key=names.validated_data),
        },
        kinds={"scikit-learn", "mlflow", "markdown"},
        owners=[OWNER],
        retry_policy=retry,
        description=(
            "Test-split metrics, per-slice metrics over every categorical feature, confusion "
            "matrix and calibration (or residual) plots, a Markdown model card, and the champion "
            "scored on the same rows with a paired bootstrap interval of the difference. With "
            "refit_on_window (off by default), the same pipeline refit on every labelled row of "
            "the window is the model registered_model_version registers."
        ),
    )(evaluation_report)
