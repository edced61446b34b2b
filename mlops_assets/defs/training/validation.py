"""validated_data: raw_data checked against the model name's versioned schema contract."""

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.defs.common import (
    DATA_GROUP,
    data_asset,
    failure,
    failure_cases_markdown,
    listed,
    number,
    table_schema,
)
from mlops_assets.defs.model_resources import ModelResources, resource_keys
from mlops_assets.domain.data import DataSourceError, content_hash, write_parquet_atomic
from mlops_assets.domain.datasets import Dataset, ValidatedDataset
from mlops_assets.domain.schemas import (
    DatasetSchema,
    DataValidationError,
    ValidationResult,
    summarize_failures,
)
from mlops_assets.services.schema_contracts import SchemaContracts


class ValidationConfig(dg.Config):
    tolerated_quarantine_share: float = 0.05
    """Share of rows that may break the contract and be quarantined; above it the run fails."""
    schema_path: str = ""
    """A schema JSON file given by the user, used as is; empty: the model name's stored schema
    (inferred on the first run), with expectations re-learned from this data."""
    reinfer_schema: bool = False
    """Infer a new contract from this data instead of using the stored one (a new dataset under
    the same model name)."""


def validated_data(
    context: dg.AssetExecutionContext,
    config: ValidationConfig,
    raw_data: Dataset,
):
    resources = ModelResources(context)
    data_source, mlflow_registry, storage = (
        resources.data_source,
        resources.mlflow_registry,
        resources.storage,
    )
    # raw_data's own description: a retraining window's rows come from scoring partitions.
    source, frame = raw_data.source, raw_data.frame
    contracts = SchemaContracts(
        storage.path("schemas", mlflow_registry.model_name, "v0").parent,
        mlflow_registry.model_name,
    )
    try:
        contract = contracts.contract_for(
            frame,
            data_source.column_settings(),
            source,
            schema_path=config.schema_path,
            reinfer=config.reinfer_schema,
        )
        context.log.info(f"schema contract: {contract.origin}")
        result = contracts.validate(frame, contract, source)
    except DataSourceError as error:  # the schema_path given cannot be read
        raise failure(str(error)) from error
    except DataValidationError as error:
        cases = failure_cases_markdown(error.failure_cases)
        yield dg.AssetCheckResult(
            check_name="schema_conforms", passed=False, metadata={"failure_cases": cases}
        )
        raise failure(str(error), failure_cases=cases) from error

    quarantine_path = storage.path(
        "quarantine", f"validated_data-{content_hash(frame)[:16]}.parquet"
    )
    if len(result.quarantined):
        write_parquet_atomic(result.quarantined, quarantine_path)
    share = result.quarantined_share
    within = share <= config.tolerated_quarantine_share
    quarantine_metadata = {
        "quarantined_rows": dg.MetadataValue.int(len(result.quarantined)),
        "quarantined_share": number(share),
        "tolerated_share": number(config.tolerated_quarantine_share),
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
    version = contracts.version_for(contract, result)
    schema = version.schema
    valid = result.valid.reset_index(drop=True)
    digest = content_hash(valid)
    # MaterializeResult's data_version is public API; Output's is still a beta parameter.
    yield dg.MaterializeResult(
        value=ValidatedDataset(valid, source, schema=schema, schema_version=version.label),
        data_version=dg.DataVersion(digest),
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(valid)),
            "dagster/column_schema": table_schema(valid),
            "content_hash": dg.MetadataValue.text(digest),
            "source": dg.MetadataValue.text(source),
            "schema_version": dg.MetadataValue.text(version.label),
            "schema_fingerprint": dg.MetadataValue.text(schema.fingerprint()),
            "schema_file": dg.MetadataValue.path(str(version.file)),
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


def validated_data_asset(names: ModelNames) -> dg.AssetsDefinition:
    """The model's validated_data, checked against its registered model's schema contract."""
    return data_asset(
        key=names.validated_data,
        group_name=names.group(DATA_GROUP),
        required_resource_keys=resource_keys(names, "data_source", "mlflow_registry", "storage"),
        ins={"raw_data": dg.AssetIn(key=names.raw_data)},
        kinds={"pandera", "parquet"},
        check_specs=[
            dg.AssetCheckSpec(
                "schema_conforms",
                asset=names.validated_data,
                blocking=True,
                description=(
                    "The schema's contract holds: columns and roles, dtypes, null budgets, the "
                    "target and its classes."
                ),
            ),
            dg.AssetCheckSpec(
                "quarantine_within_tolerance",
                asset=names.validated_data,
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
    )(validated_data)
