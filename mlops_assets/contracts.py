"""Names that cross module boundaries, in one place: registry aliases, MLflow tag names,
artefact paths, run tags and the metadata that one asset writes and another (or a sensor)
reads. Dagster-free and import-cheap: the webserver, the daemon and every run load it.

A name defined here is the only definition; modules import it rather than repeat the string.
"""

from __future__ import annotations

# --- Registry: aliases, model-version tags, run artefacts -----------------------------------

# Aliases of the registered model: scoring loads `champion`; a candidate the gate rejected is
# the `challenger`.
CHAMPION_ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"

# Model-version tags. With the gate tags, every move of `champion` can be checked to have been
# judged against exactly the version it replaced (REPLACED_TAG == EVALUATED_AGAINST_TAG).
PROMOTED_AT_TAG = "champion.promoted_at"
ARCHIVED_AT_TAG = "champion.archived_at"
REPLACED_TAG = "champion.replaced"
ROLLED_BACK_AT_TAG = "champion.rolled_back_at"
EVALUATED_AGAINST_TAG = "evaluated_against_champion"
ROLLBACK_AUDIT_TAG = "rollback.audit"
ROLLBACK_RESTORED_BY_TAG = "rollback.restored_by"
PROMOTION_AUDIT_TAG = "promotion.audit"
# SHA-256 of the model artefact's files, recorded at registration and verified every time the
# version is loaded for scoring or comparison.
MODEL_HASH_TAG = "model.sha256"
# Tags on both the training run and its model version.
DATA_HASH_TAG = "data_hash"
ESTIMATOR_TAG = "estimator"
DAGSTER_RUN_ID_TAG = "dagster.run_id"
# A test metric of the version, e.g. `metric.test_roc_auc`; drift monitoring reads it back.
TEST_METRIC_TAG_PREFIX = "metric.test_"
# The gate's decision, on the training run and on the model version.
GATE_DECISION_TAG = "gate.decision"
GATE_REASONS_TAG = "gate.reasons"
GATE_CHECK_TAG_PREFIX = "gate.check."
# Training-run tag: the features the leakage guard flagged, comma-separated ("" when none).
LEAKAGE_TAG = "leakage.features"

# Dagster run tag on every job that may move `champion`; dagster.yaml's run queue lets one such
# run go at a time (the gate's compare-and-set lock covers runs outside a queue).
GATE_RUN_TAG_KEY = "mlops/gate"
CHAMPION_GATE_RUN_TAG = {GATE_RUN_TAG_KEY: "champion"}

# Artefacts of every training run, read back by evaluation, scoring and drift monitoring.
MODEL_ARTIFACT = "model"
SCHEMA_ARTIFACT = "schema.json"
FEATURES_ARTIFACT = "features.json"
LEAKAGE_ARTIFACT = "leakage.md"
SEARCH_ARTIFACT = "search.csv"
REFERENCE_PROFILE_ARTIFACT = "reference/profile.json"
REFERENCE_SAMPLE_ARTIFACT = "reference/sample.parquet"
EVALUATION_ARTIFACT_DIR = "evaluation"
# The model's score of each row in the reference sample and in the batch predictions.
SCORE_COLUMN = "__score__"

# --- Monitoring: drift verdict, run tags, metadata keys -------------------------------------
