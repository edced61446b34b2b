"""scoring_data: one day's batch, checked against the champion's schema before it is stored."""

from datetime import date

import dagster as dg

from mlops_assets.contracts import CHAMPION_ALIAS, SCORING_CHECK
from mlops_assets.defs.common import (
    DATA_GROUP,
    failure,
    failure_cases_markdown,
    listed,
    retried_on_mlflow_outage,
)
from mlops_assets.defs.monitoring.partitions import daily_check_spec, daily_spec
from mlops_assets.defs.monitoring.steps import daily_step
from mlops_assets.domain.data import DataSourceError, content_hash
from mlops_assets.domain.evaluation import markdown_table
from mlops_assets.domain.schemas import (
    DataValidationError,
    categorical_codes_as_text,
    check_scoring_batch,
    conform_to_contract,
)
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
from mlops_assets.resources.mlflow_registry import MlflowRegistry

SPEC = daily_spec(
    "scoring_data",
    "One day's batch to score (a daily file, a SQL table filtered on its date column, or the "
    "built-in generator with its drift scenario). Labels are kept when present. A batch the "
    "champion cannot score fails here, before anything is stored, and the day goes no further.",
    kinds={"pandas", "parquet"},
    stored=True,
    # Data coming in, as raw_data's is (whose retraining window reads it): in the data group the
    # lineage reads data -> training -> monitoring, not monitoring first.
    group_name=DATA_GROUP,
)
CHECK = daily_check_spec(
    SCORING_CHECK,
    "scoring_data",
    "The day's file is readable and has the champion's feature columns with their types, no "
    "infinities and no feature left all empty. Unseen categories, extra columns and unusual "
    "null shares are reported, not failed. A failed check stops the day before scoring.",
)


@daily_step(SPEC, CHECK)
@retried_on_mlflow_outage
def scoring_data(
    context: dg.AssetExecutionContext,
    partition: str,
    scoring_source: ScoringDataSource,
    data_source: TrainingDataSource,
    mlflow_registry: MlflowRegistry,
):
    """The day's batch, checked: yields the check's result and the frame's `Output`."""
    day = date.fromisoformat(partition)
    source = scoring_source.describe(day)
    champion = mlflow_registry.version_by_alias(CHAMPION_ALIAS)
    schema = None if champion is None else mlflow_registry.training_schema(champion.run_id)
    try:
        # Only the categorical features as text: the target is read as training read it
        # (pandas' own types), so a boolean label spelled `FALSE` is the class False, not text.
        frame = scoring_source.load_day(
            day, text_columns=() if schema is None else schema.categorical_features
        )
    except DataSourceError as error:
        cases = failure_cases_markdown(error.failure_cases(source))
        yield dg.AssetCheckResult(
            check_name=SCORING_CHECK,
            passed=False,
            description=str(error),
            metadata={"failure_cases": cases},
        )
        raise failure(str(error), failure_cases=cases) from error

    report = None
    if champion is not None and schema is not None:
        # Stored as the model's categories: every later reader (scoring, drift, retraining)
        # sees the same text the model was trained on.
        frame = categorical_codes_as_text(frame, schema)
        try:
            # Stored in the contract's types (a boolean read as text goes back to booleans):
            # the model, the drift report and a retraining window all see what training saw.
            frame = conform_to_contract(frame, schema, source)
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
    if champion is None or report is None:
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
