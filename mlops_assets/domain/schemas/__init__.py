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

from mlops_assets.domain.schemas.column_settings import (
    MIN_DATE_SHARE,
    check_column_settings,
    parse_column_list,
    timestamp_problem,
)
from mlops_assets.domain.schemas.inference import (
    ID_REASON,
    MAX_CATEGORIES,
    MIN_ROWS_FOR_ROLES,
    infer_schema,
    learn_expectations,
)
from mlops_assets.domain.schemas.model import (
    FAILURE_COLUMNS,
    MAX_CLASSES,
    SCHEMA_FORMAT,
    ColumnSpec,
    DatasetSchema,
    DataValidationError,
    Kind,
    Role,
    TaskType,
    infer_task,
    label_strings,
    summarize_failures,
)
from mlops_assets.domain.schemas.scoring import (
    SchemaDiff,
    ScoringBatchReport,
    categorical_codes_as_text,
    check_scoring_batch,
    check_scoring_frame,
    compare_schemas,
)
from mlops_assets.domain.schemas.validation import (
    EXPECTATION_COLUMNS,
    NULL_SHARE_SLACK,
    ValidationResult,
    check_expectations,
    to_pandera,
    validate,
)

__all__ = [
    "EXPECTATION_COLUMNS",
    "FAILURE_COLUMNS",
    "ID_REASON",
    "MAX_CATEGORIES",
    "MAX_CLASSES",
    "MIN_DATE_SHARE",
    "MIN_ROWS_FOR_ROLES",
    "NULL_SHARE_SLACK",
    "SCHEMA_FORMAT",
    "ColumnSpec",
    "DataValidationError",
    "DatasetSchema",
    "Kind",
    "Role",
    "SchemaDiff",
    "ScoringBatchReport",
    "TaskType",
    "ValidationResult",
    "categorical_codes_as_text",
    "check_column_settings",
    "check_expectations",
    "check_scoring_batch",
    "check_scoring_frame",
    "compare_schemas",
    "infer_schema",
    "infer_task",
    "label_strings",
    "learn_expectations",
    "parse_column_list",
    "summarize_failures",
    "timestamp_problem",
    "to_pandera",
    "validate",
]
