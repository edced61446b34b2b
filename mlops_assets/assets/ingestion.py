"""raw_data -> validated_data: snapshot the source, then check it against a versioned schema."""

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

from mlops_assets.assets.common import (
    DATA_GROUP,
    OWNER,
    SCHEMA_ATTR,
    failure,
    failure_cases_markdown,
    listed,
    table_schema,
)
from mlops_assets.domain.data import (
    DataSourceError,
    check_data_path,
    content_hash,
    write_parquet_atomic,
    write_text_atomic,
)
from mlops_assets.domain.schemas import (
    DatasetSchema,
    DataValidationError,
    infer_schema,
    summarize_failures,
    validate,
)
from mlops_assets.resources.data_source import TrainingDataSource
from mlops_assets.resources.io_managers import asset_path
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.resources.project import ProjectStorage


class RawDataConfig(dg.Config):
    """Empty for training on the configured source; retraining sets a window of days."""

    window_start: str = ""
    """First day (YYYY-MM-DD) of labelled scoring partitions to train on."""
    window_end: str = ""
    """Last day of the window; when set, the snapshot is those partitions' labelled rows."""
    include_training_source: bool = False
    """Add the configured training source to the window's rows."""


@dg.asset(
    group_name=DATA_GROUP,
    kinds={"pandas", "parquet"},
    owners=[OWNER],
    io_manager_key="parquet_io_manager",
    code_version="1",
    check_specs=[
        dg.AssetCheckSpec(
            "source_readable",
            asset="raw_data",
            blocking=True,
            description=(
                "The source is a readable table: not empty, not truncated, UTF-8, no binary "
                "garbage, unique column names, inside the allowed data roots."
            ),
        )
    ],
    description=(
        "Snapshot of the training source (file, directory, SQL table or the built-in synthetic "
        "data) as Parquet. Its data version is the content hash, so an unchanged source leaves "
        "everything downstream fresh."
    ),
)
def raw_data(
    context: dg.AssetExecutionContext, config: RawDataConfig, data_source: TrainingDataSource
):
    try:
        if config.window_end:
            frame, source = _labelled_window(config, data_source)
        else:
            frame, source = data_source.load(), data_source.describe()
    except DataSourceError as error:
        cases = failure_cases_markdown(error.failure_cases(data_source.describe()))
        yield dg.AssetCheckResult(
            check_name="source_readable",
            passed=False,
            description=str(error),
            metadata={"failure_cases": cases},
        )
        raise failure(str(error), source=data_source.describe(), failure_cases=cases) from error
    digest = content_hash(frame)
    context.log.info(
        f"read {len(frame)} rows x {frame.shape[1]} columns from {data_source.describe()}"
    )
    yield dg.Output(
        frame,
        data_version=dg.DataVersion(digest),
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(frame)),
            "columns": dg.MetadataValue.int(frame.shape[1]),
            "dagster/column_schema": table_schema(frame),
            "source": dg.MetadataValue.text(source),
            "content_hash": dg.MetadataValue.text(digest),
        },
    )
    yield dg.AssetCheckResult(
        check_name="source_readable",
        passed=True,
        metadata={
            "rows": dg.MetadataValue.int(len(frame)),
            "columns": dg.MetadataValue.int(frame.shape[1]),
        },
    )


def _labelled_window(
    config: RawDataConfig, data_source: TrainingDataSource
) -> tuple[pd.DataFrame, str]:
    """The labelled rows of stored scoring_data partitions from window_start to window_end."""
    end = date.fromisoformat(config.window_end)
    start = date.fromisoformat(config.window_start or config.window_end)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    frames, used = [], []
    for day in days:
        path = asset_path(dg.AssetKey("scoring_data"), day.isoformat())
        if not path.exists():
            continue
        frame = pd.read_parquet(path)
        if data_source.target_column in frame.columns:
            frames.append(frame.dropna(subset=[data_source.target_column]))
            used.append(day.isoformat())
    if not frames:
        raise DataSourceError(
            f"no labelled scoring_data partitions between {start} and {end}: score those days "
            f"with labels (column {data_source.target_column!r}) before retraining on them."
        )
    source = f"labelled scoring_data partitions {used[0]}..{used[-1]} ({len(used)} days)"
    if config.include_training_source:
        frames.insert(0, data_source.load())
        source += f" + {data_source.describe()}"
    return pd.concat(frames, ignore_index=True), source


class ValidationConfig(dg.Config):
    tolerated_quarantine_share: float = 0.05
    """Share of rows that may fail row-level checks and be quarantined; above it the run fails."""
    schema_path: str = ""
    """A schema JSON file given by the user; empty: the stored schema (inferred on first run)."""
    reinfer_schema: bool = False
    """Infer a new schema version from this data instead of using the stored one."""


@dg.asset(
    group_name=DATA_GROUP,
    kinds={"pandera", "parquet"},
    owners=[OWNER],
    io_manager_key="parquet_io_manager",
    code_version="1",
    check_specs=[
        dg.AssetCheckSpec(
            "schema_conforms",
            asset="validated_data",
            blocking=True,
            description="Columns, dtypes, null fractions and the target match the schema.",
        ),
        dg.AssetCheckSpec(
            "quarantine_within_tolerance",
            asset="validated_data",
            blocking=True,
            description="Rows failing row-level checks stay under the tolerated share.",
        ),
    ],
    description=(
        "raw_data checked with a pandera schema (columns, dtypes, null fractions, ranges, "
        "category sets, duplicates, target classes). Failing rows are quarantined to a "
        "separate Parquet file; the checks block training when the data is unusable."
    ),
)
def validated_data(
    context: dg.AssetExecutionContext,
    config: ValidationConfig,
    raw_data: pd.DataFrame,
    data_source: TrainingDataSource,
    mlflow_registry: MlflowRegistry,
    storage: ProjectStorage,
):
    source = data_source.describe()
    try:
        schema, schema_file = _schema_for(raw_data, config, data_source, mlflow_registry, storage)
        # Tolerance is judged here, not in `validate`, so the check can say which rule failed.
        result = validate(raw_data, schema, source=source, tolerated_quarantine_share=1.0)
    except DataValidationError as error:
        yield dg.AssetCheckResult(
            check_name="schema_conforms",
            passed=False,
            metadata={"failure_cases": failure_cases_markdown(error.failure_cases)},
        )
        raise failure(
            str(error), failure_cases=failure_cases_markdown(error.failure_cases)
        ) from error

    quarantine_path = storage.path(
        "quarantine", f"validated_data-{content_hash(raw_data)[:16]}.parquet"
    )
    if len(result.quarantined):
        write_parquet_atomic(result.quarantined, quarantine_path)
    share = result.quarantined_share
    within = share <= config.tolerated_quarantine_share
    quarantine_metadata = {
        "quarantined_rows": dg.MetadataValue.int(len(result.quarantined)),
        "quarantined_share": dg.MetadataValue.float(share),
        "tolerated_share": dg.MetadataValue.float(config.tolerated_quarantine_share),
        "failure_cases": failure_cases_markdown(result.failure_cases),
    }
    if len(result.quarantined):
        quarantine_metadata["quarantine_file"] = dg.MetadataValue.path(str(quarantine_path))
    if not within:
        yield dg.AssetCheckResult(
            check_name="quarantine_within_tolerance", passed=False, metadata=quarantine_metadata
        )
        raise dg.Failure(
            description=(
                f"{source}: {share:.1%} of rows failed row-level checks, above the tolerated "
                f"{config.tolerated_quarantine_share:.1%}: "
                f"{summarize_failures(result.failure_cases)}. The failing rows are in "
                f"{quarantine_path}; fix the source, or raise tolerated_quarantine_share in the "
                "validated_data run config if they are acceptable."
            ),
            metadata=quarantine_metadata,
        )

    valid = result.valid.reset_index(drop=True)
    valid.attrs[SCHEMA_ATTR] = schema.to_json()
    digest = content_hash(valid)
    yield dg.Output(
        valid,
        data_version=dg.DataVersion(digest),
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(valid)),
            "content_hash": dg.MetadataValue.text(digest),
            "schema_fingerprint": dg.MetadataValue.text(schema.fingerprint()),
            "schema_file": dg.MetadataValue.path(str(schema_file)),
            "task": dg.MetadataValue.text(schema.task),
            "quarantined_rows": dg.MetadataValue.int(len(result.quarantined)),
            "extra_columns_dropped": dg.MetadataValue.int(len(result.extra_columns)),
        },
    )
    yield dg.AssetCheckResult(
        check_name="schema_conforms",
        passed=True,
        metadata={
            "schema_fingerprint": dg.MetadataValue.text(schema.fingerprint()),
            "columns_checked": dg.MetadataValue.int(len(schema.columns)),
            "extra_columns_dropped": dg.MetadataValue.text(listed(result.extra_columns)),
        },
    )
    yield dg.AssetCheckResult(
        check_name="quarantine_within_tolerance", passed=True, metadata=quarantine_metadata
    )


def _schema_for(
    frame: pd.DataFrame,
    config: ValidationConfig,
    data_source: TrainingDataSource,
    registry: MlflowRegistry,
    storage: ProjectStorage,
) -> tuple[DatasetSchema, Path]:
    """The user's schema, else the latest stored version, else one inferred and stored as v1.

    Versions are immutable files `v<N>-<fingerprint>.json` per registered model name, so a model
    version can always name the exact schema it was trained under.
    """
    if config.schema_path:
        try:
            path = check_data_path(config.schema_path, "validated_data schema_path")
        except DataSourceError as error:
            raise failure(str(error)) from error
        if not path.exists():
            raise dg.Failure(f"{path}: schema file not found (validated_data schema_path).")
        return DatasetSchema.from_json(path.read_text(encoding="utf-8")), path
    directory = storage.path("schemas", registry.model_name, "v0").parent
    stored = sorted(directory.glob("v*-*.json"), key=lambda p: int(p.name[1:].split("-")[0]))
    if stored and not config.reinfer_schema:
        return DatasetSchema.from_json(stored[-1].read_text(encoding="utf-8")), stored[-1]
    timestamp = data_source.timestamp_column or None
    # Raises DataValidationError (a missing or one-class target, unusable columns), which the
    # asset shows as the failed schema_conforms check.
    schema = infer_schema(
        frame,
        target=data_source.target_column,
        timestamp_column=timestamp,
        source=data_source.describe(),
    )
    path = directory / f"v{len(stored) + 1}-{schema.fingerprint()}.json"
    write_text_atomic(schema.to_json(), path)
    return schema, path
