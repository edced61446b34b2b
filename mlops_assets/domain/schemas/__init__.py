"""What a training table must look like: a schema inferred from the first data (or given by the
user), stored as versioned JSON, and checked with pandera.

A schema has two parts, treated differently:

- the **contract**: the columns and their roles (feature, target, timestamp, id, excluded,
  ignored), their kinds, the target's classes and the null budgets of the features. A table that
  breaks it column-wise (a column missing or of the wrong type, too many nulls, a target with one
  class) is unusable: `validate` raises `DataValidationError`. Rows that break it (an infinity,
  text in a numeric column, a missing or unknown label, an exact duplicate of a row with the same
  ids) are quarantined and the rest is used, up to a tolerated share.
- the **expectations**, learned from a training window: value ranges, category sets, null
  shares. They describe the reference, nothing more: a value outside them is counted and
  reported (it is drift evidence, and exactly what a retraining must learn), never quarantined.
  `learn_expectations` re-learns them from each training window.

Every failure is a row of a failure-cases table: source, column, row (0-based position in the
table), value and the check that failed, so the UI can show exactly what to fix.

The modules: `model` (the schema types, their JSON, the task), `column_settings` (the user's
column variables), `inference`, `validation` (contract and expectations), `scoring` (can a
model score a batch).
"""

from typing import TYPE_CHECKING

from mlops_assets.domain.lazy_exports import lazy_exports

# Loaded on first use: the code location imports this package's light names only.
__all__, _load = lazy_exports(__name__, __file__)


def __getattr__(name: str) -> object:
    return _load(name)


if TYPE_CHECKING:
    from mlops_assets.domain.schemas.column_settings import (
        MIN_DATE_SHARE as MIN_DATE_SHARE,
        check_column_settings as check_column_settings,
        parse_column_list as parse_column_list,
        timestamp_problem as timestamp_problem,
    )
    from mlops_assets.domain.schemas.inference import (
        ID_REASON as ID_REASON,
        MAX_CATEGORIES as MAX_CATEGORIES,
        MIN_ROWS_FOR_ROLES as MIN_ROWS_FOR_ROLES,
        infer_schema as infer_schema,
        learn_expectations as learn_expectations,
    )
    from mlops_assets.domain.schemas.input_contract import (
        InputColumn as InputColumn,
        conform_to_contract as conform_to_contract,
        input_type_of as input_type_of,
        signature_incompatibilities as signature_incompatibilities,
    )
    from mlops_assets.domain.schemas.model import (
        FAILURE_COLUMNS as FAILURE_COLUMNS,
        MAX_CLASSES as MAX_CLASSES,
        SCHEMA_FORMAT as SCHEMA_FORMAT,
        ColumnSpec as ColumnSpec,
        DatasetSchema as DatasetSchema,
        DataValidationError as DataValidationError,
        Kind as Kind,
        Role as Role,
        TaskType as TaskType,
        infer_task as infer_task,
        label_strings as label_strings,
        summarize_failures as summarize_failures,
    )
    from mlops_assets.domain.schemas.scoring import (
        SchemaDiff as SchemaDiff,
        ScoringBatchReport as ScoringBatchReport,
        categorical_codes_as_text as categorical_codes_as_text,
        check_scoring_batch as check_scoring_batch,
        check_scoring_frame as check_scoring_frame,
        compare_schemas as compare_schemas,
    )
    from mlops_assets.domain.schemas.validation import (
        EXPECTATION_COLUMNS as EXPECTATION_COLUMNS,
        NULL_SHARE_SLACK as NULL_SHARE_SLACK,
        ValidationResult as ValidationResult,
        check_expectations as check_expectations,
        to_pandera as to_pandera,
        validate as validate,
    )
