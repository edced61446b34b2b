"""raw_data: snapshot the training source, or a retraining window of labelled scoring days."""

from collections.abc import Iterable

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.defs.common import (
    DATA_GROUP,
    data_asset,
    failure,
    failure_cases_markdown,
    table_schema,
)
from mlops_assets.defs.model_resources import ModelResources, resource_keys
from mlops_assets.domain.data import DataSourceError, content_hash
from mlops_assets.domain.datasets import (
    DailyPartitions,
    Dataset,
    labelled_window,
    window_description,
)
from mlops_assets.domain.schemas import (
    DataValidationError,
    check_column_settings,
)


class RawDataConfig(dg.Config):
    """Empty for training on the configured source; retraining sets a window of days."""

    window_start: str = ""
    """First day (YYYY-MM-DD) of labelled scoring partitions to train on."""
    window_end: str = ""
    """Last day of the window; when set, the snapshot is those partitions' labelled rows."""
    include_training_source: bool = False
    """Add the configured training source to the window's rows."""


def raw_data(
    context: dg.AssetExecutionContext,
    config: RawDataConfig,
    scoring_data: DailyPartitions,
):
    resources = ModelResources(context)
    names, data_source, labels_source = (
        resources.names,
        resources.data_source,
        resources.labels_source,
    )
    if config.window_end:
        source = window_description(config.window_start, config.window_end)
    else:
        source = data_source.describe()
    try:
        if config.window_end:
            window = labelled_window(
                scoring_data,
                config.window_start,
                config.window_end,
                data_source.target_column,
                # Labels in the scoring files need no join; delayed ones come from `labels`.
                # Not a declared dependency: labels is downstream of the champion raw_data
                # trains (labels <- batch_predictions <- registered_model_version), and Dagster
                # refuses the cycle that edge would close (toposort's CircularDependencyError).
                # The read is declared instead in the window's column lineage (below), and the
                # IO manager reads the files.
                labels=None
                if labels_source.with_features
                else resources.parquet_io_manager.stored_daily_partitions(names.labels),
                id_columns=data_source.id_column_names,
            )
            leading = (data_source.load(),) if config.include_training_source else ()
            frame = window.rows(*leading)
            source = window.source + (f" + {data_source.describe()}" if leading else "")
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
    lineage = (
        {
            "dagster/column_lineage": _window_lineage(
                names, frame.columns, data_source.target_column, not labels_source.with_features
            )
        }
        if config.window_end
        else {}
    )
    context.log.info(f"read {len(frame)} rows x {frame.shape[1]} columns from {source}")
    # MaterializeResult's data_version is public API; Output's is still a beta parameter.
    yield dg.MaterializeResult(
        value=Dataset(frame, source),
        data_version=dg.DataVersion(digest),
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(frame)),
            "columns": dg.MetadataValue.int(frame.shape[1]),
            "dagster/column_schema": table_schema(frame),
            "source": dg.MetadataValue.text(source),
            "content_hash": dg.MetadataValue.text(digest),
            **lineage,
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


def _window_lineage(
    names: ModelNames, columns: Iterable[object], target: str, delayed_labels: bool
) -> dg.TableColumnLineage:
    """Where a retraining window's columns come from: scoring_data's days, and the target from
    the `labels` days when labels are delivered late (the one read the asset graph cannot draw
    as an edge). The asset page's column lineage shows both."""
    labels_target = [dg.TableColumnDep(asset_key=names.labels, column_name=target)]
    return dg.TableColumnLineage(
        deps_by_column={
            str(column): labels_target
            if delayed_labels and column == target
            else [dg.TableColumnDep(asset_key=names.scoring_data, column_name=str(column))]
            for column in columns
        }
    )


def raw_data_asset(names: ModelNames) -> dg.AssetsDefinition:
    """The model's raw_data: its training source's snapshot, or a window of its scored days."""
    return data_asset(
        key=names.raw_data,
        group_name=names.group(DATA_GROUP),
        kinds={"pandas", "parquet"},
        required_resource_keys=resource_keys(
            names, "data_source", "labels_source", "parquet_io_manager"
        ),
        # Every stored day, read lazily: a window reads its own days, a normal training none.
        # (With all partitions mapped, Dagster does not judge raw_data stale by scoring_data.)
        ins={
            "scoring_data": dg.AssetIn(
                key=names.scoring_data, partition_mapping=dg.AllPartitionMapping()
            )
        },
        check_specs=[
            dg.AssetCheckSpec(
                "source_readable",
                asset=names.raw_data,
                blocking=True,
                description=(
                    "The source is a readable table: not empty, not truncated, UTF-8, no binary "
                    "garbage, unique column names, inside the allowed data roots."
                ),
            )
        ],
        description=(
            "Snapshot of the training source (file, directory, SQL table or the built-in "
            "synthetic data), or of a retraining window's labelled scoring_data days, as "
            "Parquet. Its data version is the content hash, so an unchanged source leaves "
            "everything downstream fresh."
        ),
    )(raw_data)
