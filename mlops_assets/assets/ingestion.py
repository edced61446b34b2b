"""raw_data -> validated_data: snapshot the source, then check it against a versioned schema."""

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

from mlops_assets.assets.common import (
    DATA_GROUP,
    OWNER,
    SCHEMA_ATTR,
    SCHEMA_VERSION_ATTR,
    SOURCE_ATTR,
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
    ValidationResult,
    check_column_settings,
    infer_schema,
    learn_expectations,
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
    source = _window_description(config) if config.window_end else data_source.describe()
    try:
        if config.window_end:
            frame, source = _labelled_window(config, data_source)
        else:
            frame = data_source.load()
        # Before anything is stored: a timestamp that holds no dates would make a meaningless
        # "time-ordered" split, and a misspelt id or exclusion would silently stay a feature.
        check_column_settings(
            frame,
            source,
            target=data_source.target_column,
            timestamp_column=data_source.timestamp_column,
            id_columns=data_source.id_column_names,
            exclude_columns=data_source.excluded_column_names,
        )
    except (DataSourceError, DataValidationError) as error:
        found = (
            error.failure_cases(source)
            if isinstance(error, DataSourceError)
            else error.failure_cases
        )
        cases = failure_cases_markdown(found)
        yield dg.AssetCheckResult(
            check_name="source_readable",
            passed=False,
            description=str(error),
            metadata={"failure_cases": cases},
        )
        raise failure(str(error), source=source, failure_cases=cases) from error
    digest = content_hash(frame)
    frame.attrs[SOURCE_ATTR] = source
    context.log.info(f"read {len(frame)} rows x {frame.shape[1]} columns from {source}")
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


def _window_description(config: RawDataConfig) -> str:
    start = config.window_start or config.window_end
    return f"labelled scoring_data partitions {start}..{config.window_end}"


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
    """Share of rows that may break the contract and be quarantined; above it the run fails."""
    schema_path: str = ""
    """A schema JSON file given by the user, used as is; empty: the model name's stored schema
    (inferred on the first run), with expectations re-learned from this data."""
    reinfer_schema: bool = False
    """Infer a new contract from this data instead of using the stored one (a new dataset under
    the same model name)."""


@dg.asset(
    group_name=DATA_GROUP,
    kinds={"pandera", "parquet"},
    owners=[OWNER],
    io_manager_key="parquet_io_manager",
    code_version="2",
    check_specs=[
        dg.AssetCheckSpec(
            "schema_conforms",
            asset="validated_data",
            blocking=True,
            description=(
                "The schema's contract holds: columns and roles, dtypes, null budgets, the "
                "target and its classes."
            ),
        ),
        dg.AssetCheckSpec(
            "quarantine_within_tolerance",
            asset="validated_data",
            blocking=True,
            description="Rows breaking the contract stay under the tolerated share.",
        ),
    ],
    description=(
        "raw_data checked against the schema's contract with pandera (columns and their roles, "
        "dtypes, non-finite numbers, malformed values, null budgets, the target's classes, "
        "exact duplicates with ids). Rows breaking it are quarantined to a separate Parquet "
        "file; the checks block training when the data is unusable. Values outside the learned "
        "expectations (ranges, category sets, null shares) are counted in the metadata, never "
        "quarantined, and the schema version this data trains under learns them afresh."
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
    # raw_data's own description: a retraining window's rows come from scoring partitions.
    source = raw_data.attrs.get(SOURCE_ATTR) or data_source.describe()
    try:
        contract = _contract_for(raw_data, config, data_source, mlflow_registry, storage, source)
        context.log.info(f"schema contract: {contract.origin}")
        try:
            # Tolerance is judged here, not in `validate`, so the check says which rule failed.
            result = validate(
                raw_data, contract.schema, source=source, tolerated_quarantine_share=1.0
            )
        except DataValidationError as error:
            checks = error.failure_cases["check"].astype(str)
            mismatch = checks.str.startswith(("column_in_dataframe", "coerce_dtype", "dtype"))
            if contract.stored_file is None or not mismatch.any():
                raise
            raise DataValidationError(
                f"{error} Note: model name {mlflow_registry.model_name!r} already has a schema "
                f"({contract.stored_file}), inferred from the data it was first trained on. If "
                "this is a different table, start a new schema: set reinfer_schema: true in the "
                "validated_data run config, or train it under a new MLOPS_MODEL_NAME.",
                error.failure_cases,
            ) from error
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
                f"{source}: {share:.1%} of rows broke the schema's contract, above the tolerated "
                f"{config.tolerated_quarantine_share:.1%}: "
                f"{summarize_failures(result.failure_cases)}. The failing rows are in "
                f"{quarantine_path}; fix the source, or raise tolerated_quarantine_share in the "
                "validated_data run config if they are acceptable."
            ),
            metadata=quarantine_metadata,
        )

    # Stored only now, for data that passed: the version the model is trained under.
    schema, schema_file = _schema_version(contract, result, mlflow_registry, storage)
    valid = result.valid.reset_index(drop=True)
    valid.attrs[SCHEMA_ATTR] = schema.to_json()
    valid.attrs[SCHEMA_VERSION_ATTR] = schema_file.stem
    digest = content_hash(valid)
    yield dg.Output(
        valid,
        data_version=dg.DataVersion(digest),
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(valid)),
            "content_hash": dg.MetadataValue.text(digest),
            "source": dg.MetadataValue.text(source),
            "schema_version": dg.MetadataValue.text(schema_file.stem),
            "schema_fingerprint": dg.MetadataValue.text(schema.fingerprint()),
            "schema_file": dg.MetadataValue.path(str(schema_file)),
            "task": dg.MetadataValue.text(schema.task),
            **_roles_metadata(schema),
            **_expectations_metadata(result),
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


def _roles_metadata(schema: DatasetSchema) -> dict[str, dg.MetadataValue]:
    from mlops_assets.domain.evaluation import markdown_table

    return {
        "column_roles": dg.MetadataValue.md(markdown_table(schema.roles_table())),
        "id_columns": dg.MetadataValue.text(listed(tuple(schema.id_columns))),
        "excluded_columns": dg.MetadataValue.text(listed(tuple(schema.excluded_columns))),
        "features": dg.MetadataValue.int(len(schema.feature_columns)),
    }


def _expectations_metadata(result: ValidationResult) -> dict[str, dg.MetadataValue]:
    from mlops_assets.domain.evaluation import markdown_table

    outside = result.outside_expectations
    return {
        "rows_outside_expectations": dg.MetadataValue.int(result.rows_outside_expectations),
        "outside_expectations": dg.MetadataValue.md(
            markdown_table(outside.astype(str))
            if len(outside)
            else "Every value within the expectations of the schema it was checked against."
        ),
        "duplicate_rows_kept": dg.MetadataValue.int(result.duplicate_rows),
    }


@dataclass(frozen=True)
class _Contract:
    schema: DatasetSchema
    origin: str
    """Where the contract comes from, for the log."""
    stored_file: Path | None = None
    """The model name's stored schema file the contract was read from (None: inferred now)."""
    given_file: Path | None = None
    """The user's schema_path: used as is, expectations included."""


def _schema_directory(registry: MlflowRegistry, storage: ProjectStorage) -> Path:
    return storage.path("schemas", registry.model_name, "v0").parent


def _stored_versions(directory: Path) -> list[Path]:
    return sorted(directory.glob("v*-*.json"), key=lambda p: int(p.name[1:].split("-")[0]))


def _contract_for(
    frame: pd.DataFrame,
    config: ValidationConfig,
    data_source: TrainingDataSource,
    registry: MlflowRegistry,
    storage: ProjectStorage,
    source: str,
) -> _Contract:
    """The user's schema, else the latest stored version's contract, else one inferred now.

    A stored contract is re-inferred when MLOPS_ID_COLUMNS / MLOPS_EXCLUDE_COLUMNS name roles
    it does not have: changing the roles is how a user fixes a leaking or id column.
    """
    if config.schema_path:
        try:
            path = check_data_path(config.schema_path, "validated_data schema_path")
        except DataSourceError as error:
            raise failure(str(error)) from error
        if not path.exists():
            raise dg.Failure(f"{path}: schema file not found (validated_data schema_path).")
        schema = DatasetSchema.from_json(path.read_text(encoding="utf-8"))
        return _Contract(schema, f"given in {path}", given_file=path)
    ids, excluded = data_source.id_column_names, data_source.excluded_column_names
    stored = _stored_versions(_schema_directory(registry, storage))
    why = "inferred from this data (first training under this model name)"
    if stored and config.reinfer_schema:
        why = "re-inferred from this data (reinfer_schema: true)"
    elif stored:
        latest = DatasetSchema.from_json(stored[-1].read_text(encoding="utf-8"))
        redefined = _redefining_settings(latest, data_source)
        if redefined:
            # Another target or timestamp is another model: never train it under the stored
            # contract, and never replace that contract without being asked to.
            raise DataValidationError(
                f"{source}: model name {registry.model_name!r} already has a schema "
                f"({stored[-1]}), and {'; '.join(redefined)}. If this is a different table or "
                "task, start a new schema: set reinfer_schema: true in the validated_data run "
                "config, or train it under a new MLOPS_MODEL_NAME."
            )
        roles = _changed_roles(latest, data_source)
        if not roles:
            return _Contract(latest, f"stored in {stored[-1]}", stored_file=stored[-1])
        why = f"re-inferred from this data: {'; '.join(roles)} differ from {stored[-1]}"
    # Raises DataValidationError (a missing or one-class target, unusable columns), which the
    # asset shows as the failed schema_conforms check.
    schema = infer_schema(
        frame,
        target=data_source.target_column,
        timestamp_column=data_source.timestamp_column or None,
        source=source,
        id_columns=ids,
        exclude_columns=excluded,
    )
    return _Contract(schema, why)


def _redefining_settings(stored: DatasetSchema, data_source: TrainingDataSource) -> list[str]:
    """The target and timestamp settings that differ from the stored contract's."""
    timestamp = data_source.timestamp_column or None
    changed = []
    if data_source.target_column != stored.target:
        changed.append(
            f"its target is {stored.target!r}, not MLOPS_TARGET_COLUMN="
            f"{data_source.target_column!r}"
        )
    if timestamp != stored.timestamp_column:
        changed.append(
            f"its timestamp is {stored.timestamp_column!r}, not MLOPS_TIMESTAMP_COLUMN="
            f"{timestamp!r}"
        )
    return changed


def _changed_roles(stored: DatasetSchema, data_source: TrainingDataSource) -> list[str]:
    """The id and exclusion settings that the stored contract does not hold: changing them is
    how a user fixes a leaking or id column, so they re-infer the contract by themselves."""
    ids, excluded = data_source.id_column_names, data_source.excluded_column_names
    changed = []
    if not set(ids) <= set(stored.id_columns):
        changed.append(f"MLOPS_ID_COLUMNS={','.join(ids)!r}")
    if set(excluded) != set(stored.excluded_columns):
        changed.append(f"MLOPS_EXCLUDE_COLUMNS={','.join(excluded)!r}")
    return changed


def _schema_version(
    contract: _Contract, result: ValidationResult, registry: MlflowRegistry, storage: ProjectStorage
) -> tuple[DatasetSchema, Path]:
    """The schema the model is trained under: the contract with expectations learned from the
    valid rows, stored as an immutable `v<N>-<fingerprint>.json` per registered model name (the
    latest file is reused when equal), so a model version always names its exact schema."""
    if contract.given_file is not None:
        return contract.schema, contract.given_file
    schema = learn_expectations(contract.schema, result.valid)
    directory = _schema_directory(registry, storage)
    stored = _stored_versions(directory)
    if stored:
        latest = DatasetSchema.from_json(stored[-1].read_text(encoding="utf-8"))
        if latest.fingerprint() == schema.fingerprint():
            return latest, stored[-1]
    path = directory / f"v{len(stored) + 1}-{schema.fingerprint()}.json"
    write_text_atomic(schema.to_json(), path)
    return schema, path
