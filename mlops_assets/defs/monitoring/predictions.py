"""batch_predictions: the day scored by the champion, chunk by chunk, stored by the IO manager."""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import dagster as dg

from mlops_assets.asset_keys import REGISTERED_MODEL_VERSION
from mlops_assets.contracts import (
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    MODEL_NAME_KEY,
    MODEL_VERSION_KEY,
    SCORE_COLUMN,
    TRAINING_DATA_HASH_KEY,
)
from mlops_assets.defs.common import failure, listed, retried_on_mlflow_outage
from mlops_assets.defs.monitoring.partitions import daily_spec
from mlops_assets.defs.monitoring.steps import daily_step
from mlops_assets.domain.schemas import DatasetSchema, DataValidationError, check_scoring_frame
from mlops_assets.resources.data_source import ScoringDataSource
from mlops_assets.resources.io_managers import StoredParquetFile, StreamedTable
from mlops_assets.resources.mlflow_registry import MlflowRegistry, ModelArtifactError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_assets.domain.monitoring import ScoringTotals, ShadowModel


class ScoringConfig(dg.Config):
    chunk_rows: int = 100_000
    """Rows read, scored and written at a time: memory stays bounded for any file size."""
    scoring_threads: int = 2
    """Chunks scored at once, while the previous one is written and the next read (each
    thread's OpenMP loops get an equal share of the CPUs); 1 scores one chunk at a time."""


SPEC = daily_spec(
    "batch_predictions",
    "The day scored by the model version holding the `champion` alias at run time (its "
    "artefact's SHA-256 verified first), read and scored in chunks, written atomically. Every "
    "row and the file's metadata name the model version and its training data hash. When a "
    "version holds `challenger`, it scores the same rows in shadow: its prediction, version and "
    "class probabilities sit beside the champion's (`__challenger_*` columns), which stay the "
    "output; at a shadow share below 1 (MLOPS_SHADOW_SHARE) only on that share of the rows, "
    "chosen by their ids' hash, the others' left empty.",
    kinds={"scikit-learn", "parquet", "mlflow"},
    # The champion is chosen at run time, through the registry; the edge shows that lineage
    # (prediction -> registered model version) in the asset graph. scoring_data, an input, is
    # added by daily_step.
    deps=[REGISTERED_MODEL_VERSION.to_user_string()],
    stored=True,
)


@daily_step(SPEC)
@retried_on_mlflow_outage
def batch_predictions(
    context: dg.AssetExecutionContext,
    partition: str,
    config: ScoringConfig,
    mlflow_registry: MlflowRegistry,
    scoring_source: ScoringDataSource,
    scoring_data: StoredParquetFile,
) -> dg.Output[StreamedTable]:
    """The day's predictions, as a table the IO manager writes chunk by chunk as it is scored."""
    from mlops_assets.domain.monitoring import ScoringTotals

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
    stored = scoring_data.schema_arrow
    # scoring_data checked the batch against the champion of its own step; the champion may
    # have changed since, so the columns are checked again (on an empty frame with the file's
    # types) against the model actually loaded, before any row is scored.
    try:
        extra = check_scoring_frame(
            stored.empty_table().to_pandas(), schema, str(scoring_data.path)
        )
    except DataValidationError as error:
        raise failure(str(error)) from error
    totals = ScoringTotals()
    shadow, shadow_note = _shadow_model(
        mlflow_registry,
        scoring_data,
        schema,
        champion.version,
        config.chunk_rows,
        scoring_source.shadow_share,
    )
    if shadow_note:
        context.log.warning(f"{partition}: {shadow_note}")

    def scored() -> Iterator["pd.DataFrame"]:
        try:
            yield from scored_chunks(
                scoring_data, model, schema, champion.version, training_hash, totals, config, shadow
            )
        except Exception as error:
            # Scored while the IO manager writes, past retried_on_mlflow_outage: the same
            # immediate failure as an error in the asset's body (no MLflow call happens here).
            raise failure(f"{type(error).__name__}: {error}") from error
        context.log.info(
            f"{partition}: scored {totals.rows} rows with {mlflow_registry.model_name} "
            f"v{champion.version}"
        )

    table = StreamedTable(
        scored(),
        footer={
            MODEL_NAME_KEY: mlflow_registry.model_name,
            MODEL_VERSION_KEY: champion.version,
            TRAINING_DATA_HASH_KEY: training_hash,
        },
        metadata=lambda: {
            "mean_score": dg.MetadataValue.float(totals.mean_score),
            # The rows paired for the challenger test: the day's, or its share's.
            **(
                {"challenger_rows_scored": dg.MetadataValue.int(totals.shadowed)}
                if shadow is not None
                else {}
            ),
        },
    )
    return dg.Output(
        table,
        metadata={
            "model_version": dg.MetadataValue.text(champion.version),
            "training_data_hash": dg.MetadataValue.text(training_hash),
            "extra_columns_ignored": dg.MetadataValue.text(listed(tuple(extra))),
            "extra_columns": dg.MetadataValue.int(len(extra)),
            "mlflow_model_version": dg.MetadataValue.url(
                mlflow_registry.version_url(champion.version)
            ),
            "challenger_version": dg.MetadataValue.text(
                "none" if shadow is None else shadow.version
            ),
            "challenger_not_scored": dg.MetadataValue.text(shadow_note or "none"),
            "challenger_share": dg.MetadataValue.float(
                0.0 if shadow is None else round(shadow.share, 4)
            ),
        },
    )


def _shadow_model(
    mlflow_registry: MlflowRegistry,
    scoring_data: StoredParquetFile,
    schema: DatasetSchema,
    champion_version: str,
    chunk_rows: int,
    share: float,
) -> tuple["ShadowModel | None", str]:
    """The version holding `challenger`, loaded and test-scored on the day's first chunk (the
    rows of it that its share samples), or None and why not ('' when there is no
    challenger). A challenger that cannot score the day (its schema or artefact unreadable,
    its features not in the file, its model failing on the rows) is reported, never fails the
    champion's predictions, which are the day's output: hence the broad guard, and the test on
    the first chunk before any row is streamed."""
    from mlops_assets.domain.monitoring import ShadowModel, shadowed_rows, with_shadow_columns

    challenger = mlflow_registry.version_by_alias(CHALLENGER_ALIAS)
    if challenger is None or challenger.version == champion_version:
        return None, ""
    not_scored = f"challenger v{challenger.version} not scored"
    try:
        features = mlflow_registry.training_schema(challenger.run_id).feature_columns
        missing = [name for name in features if name not in scoring_data.schema_arrow.names]
        if missing:
            return None, f"{not_scored}: the day has no {listed(tuple(missing))}"
        shadow = ShadowModel(
            mlflow_registry.load_model(challenger.version),
            challenger.version,
            tuple(features),
            share,
        )
        # Sampled by the ids the day has, as scored_chunks samples.
        ids = [name for name in schema.id_columns if name in scoring_data.schema_arrow.names]
        columns = [*ids, *(name for name in features if name not in ids)]
        first = next(scoring_data.iter_batches(batch_size=chunk_rows, columns=columns), None)
        if first is not None:
            chunk = first.to_pandas()
            sampled = shadowed_rows(chunk, ids, 0, share)
            if sampled is not None:
                # The rows it will score; the first row when the chunk has none of them.
                chunk = chunk[sampled] if sampled.any() else chunk.iloc[:1]
            with_shadow_columns(chunk.iloc[:, :0], chunk, shadow, schema)
    except Exception as error:  # whatever the challenger's failure, the champion's day goes on
        return None, f"{not_scored}: {type(error).__name__}: {error}"
    return shadow, ""


def scored_chunks(
    scoring_data: StoredParquetFile,
    model: Any,
    schema: DatasetSchema,
    model_version: str,
    training_hash: str,
    totals: "ScoringTotals",
    config: ScoringConfig,
    challenger: "ShadowModel | None" = None,
) -> Iterator["pd.DataFrame"]:
    """The stored day's predictions, read, scored and yielded `config.chunk_rows` at a time.

    Ids travel with every prediction: labels that arrive later join on them, and each
    prediction traces back to its input row. Only the columns the model needs are read: a
    1,000-column file costs its features."""
    from mlops_assets.domain.monitoring import score_batches

    stored = scoring_data.schema_arrow
    ids = [c for c in schema.id_columns if c in stored.names]
    target = [schema.target] if schema.target in stored.names else []
    features = list(schema.feature_columns)
    if challenger is not None:
        features += [name for name in challenger.feature_columns if name not in features]
    chunks = (
        batch.to_pandas()
        for batch in scoring_data.iter_batches(
            batch_size=config.chunk_rows, columns=[*ids, *features, *target]
        )
    )
    yield from score_batches(
        model,
        chunks,
        schema,
        ids,
        model_version,
        training_hash,
        totals,
        score_column=SCORE_COLUMN,
        threads=config.scoring_threads,
        challenger=challenger,
    )
