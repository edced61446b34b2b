"""Names that cross module boundaries, in one place: registry aliases, MLflow tag names,
artefact paths, run tags and the metadata that one asset writes and another (or a sensor)
reads. Dagster-free and import-cheap: the webserver, the daemon and every run load it.

A name defined here is the only definition; modules import it rather than repeat the string.
"""

from __future__ import annotations

# --- Registry: aliases, model-version tags, run artefacts -----------------------------------

# Aliases of the registered model: scoring loads `champion`; a candidate the gate could prove
# neither better nor worse is the `challenger` (one at a time), for live evidence to judge.
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
# Who holds which alias and why (domain/promotion/audit.py): the version's role now (champion,
# challenger or none), the sentence that says why, and one `audit.<n>` tag per move of an
# alias onto or off the version (JSON: action, alias, when, who, reason, evidence).
ROLE_TAG = "alias.role"
# On the version holding `challenger`: the canary's share of live traffic, stepped by the
# challenger sensor as the evidence grows (domain/challenger/canary.py: CanaryShare, JSON); the
# service reads it at each poll of the alias.
CANARY_SHARE_TAG = "canary_share"
ROLE_REASON_TAG = "alias.reason"
AUDIT_TAG_PREFIX = "audit."
# The registered model's tag holding the last audit sequence number handed out: every move of
# the model takes the next one under the champion lock, so no two share a number.
AUDIT_SEQUENCE_TAG = "audit_sequence"
# The registered model's tag holding a move of `challenger` begun and not yet recorded
# (domain/promotion/pending.py: JSON of the move and the version it replaces; "" when none): the
# next move under the champion lock finishes it, so a kill between the alias and its audit
# record never leaves a challenger whose role (a watched former champion) is unrecorded.
PENDING_CHALLENGER_TAG = "challenger.pending"
# SHA-256 of the model artefact's files, recorded at registration and verified every time the
# version is loaded for scoring or comparison.
MODEL_HASH_TAG = "model.sha256"
# The experiment tag MLflow 3's UI reads to pick an experiment's pages (its JS bundle's
# ExperimentKind enum): "custom_model_development" is "Machine learning", runs and models first;
# untagged, it guesses and opened ours on traces.
DEFAULT_EXPERIMENT = "mlops-assets"
"""The default model's MLflow experiment, where an existing tracking store keeps its runs; a
declared model's is its own (asset_keys.ModelNames.experiment)."""
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
ML_EXPERIMENT_KIND = "custom_model_development"
# Tags on both the training run and its model version.
DATA_HASH_TAG = "data_hash"
ESTIMATOR_TAG = "estimator"
DAGSTER_RUN_ID_TAG = "dagster.run_id"
# Model-version tag: how many rows the registered model was refit on (its whole window), or
# "none" when the evaluated fit itself is registered (docs/training.md).
REFIT_ROWS_TAG = "refit.rows"
# Model-version tag: the URI of the evaluated (split) fit in the version's run, what a later
# candidate's evaluated fit is compared with (comparison.compare_with_champion).
EVALUATED_FIT_TAG = "evaluated_fit.model_uri"
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

SCORING_CHECK = "scoring_data_conforms"
"""The blocking asset check of scoring_data (the day's batch against the champion's schema)."""
DRIFT_CHECK = "drift_within_bounds"
"""drift_report's check: WARN on a drift warning, ERROR on critical drift or a performance drop."""
DATA_QUALITY_CHECK = "data_quality_within_bounds"
"""drift_report's data-quality check: WARN on a rise in missing or unseen-category share beyond
noise or on duplicated rows, ERROR when a quarter of a column's values is hit (a file twice)."""
REALIZED_CHECK = "realized_performance_held"
"""realized_performance's check: ERROR when the labels show a drop beyond noise."""
CHALLENGER_CHECK = "challenger_verdict"
"""challenger_comparison's check: the sequential test's verdict (WARN once proven worse)."""
ESTIMATE_CHECK = "estimated_performance_held"
"""estimated_performance's check: WARN on an estimated drop or an untrusted estimate."""
PROMOTION_CHECK = "candidate_promoted"
"""registered_model_version's check: WARN when the gate kept the candidate out of `champion`."""

# Parquet footer metadata of every predictions file: the model that made them and its data.
MODEL_NAME_KEY = "mlops.model_name"
MODEL_VERSION_KEY = "mlops.model_version"
TRAINING_DATA_HASH_KEY = "mlops.training_data_hash"

RETRAINING_JOB = "retraining_job"
# Tags of a retraining run started by drift_retraining_sensor. The window tags are read back
# by the next decision (and by drift_report's "last retraining" line) from the run records.
TRIGGER_PARTITION_TAG = "mlops/triggered_by_drift_report"
TRIGGER_RUN_TAG = "mlops/drift_report_run"
WINDOW_START_TAG = "mlops/window_start"
WINDOW_END_TAG = "mlops/window_end"
# On a retraining run whose model live evidence rolled back (challenger_sensor): the data day of
# the verdict. The drift sensor counts that run's days as tried up to it (domain/retraining.py).
ROLLED_BACK_ON_TAG = "mlops/rolled_back_on"
ATTEMPT_TAG = "mlops/attempt"
REASON_TAG = "mlops/reason"
# The signals that alarmed on the streak a retraining was started for, comma-separated, in this
# order: a realized drop (labels), a trusted estimated drop (no labels yet), feature drift.
SIGNALS_TAG = "mlops/signals"
SIGNAL_REALIZED = "realized"
SIGNAL_ESTIMATED = "estimated"
SIGNAL_FEATURE_DRIFT = "feature drift"

# The asset names (LABELS_ASSET, ...) are in mlops_assets/asset_keys.py, with every asset's key.
# labels, realized_performance and challenger_comparison for the partitions whose labels were
# (re)delivered, started by the labels sensor when a delivery appears or changes in the labels
# source.
LABELS_JOB = "labels_job"
LABELS_SENSOR = "labels_arrival_sensor"
# drift_report for a chosen day with evidently's HTML report drawn, whatever its severity.
EVIDENTLY_REPORT_JOB = "evidently_report_job"
# batch_predictions' class-probability columns, one per class: f"{PROBA_COLUMN_PREFIX}{label}".
PROBA_COLUMN_PREFIX = "__proba__"
# Artefact of every classifier's training run: the probability calibrator fitted on the
# validation split, used only to estimate performance (scores served stay the model's own).
# Plain JSON parameters (domain/estimation/calibration.py), not a pickle.
CALIBRATOR_ARTIFACT = "estimation/calibrator.json"
# Artefacts of every regressor's training run: the direct loss estimator's two loss models
# (|error| and error², domain/estimation/dle.py) fitted on the validation split, as skops (no
# pickle), and its figures as JSON for people. The run's param LOSS_MODEL_PARAM says one exists.
LOSS_MODEL_ARTIFACT = "estimation/loss_model.skops"
LOSS_MODEL_SUMMARY_ARTIFACT = "estimation/loss_model.json"
LOSS_MODEL_PARAM = "loss_model"


# The day's monitoring run in MLflow: one per day and model version, in the model's experiment
# beside its training runs, with evidently's HTML and the day's figures (drift_report writes it).
MONITORING_RUN_KIND_TAG = "mlops.run_kind"
MONITORING_RUN_KIND = "monitoring"
MONITORING_PARTITION_TAG = "mlops.partition"
MONITORING_MODEL_VERSION_TAG = "mlops.model_version"
DRIFT_SEVERITY_TAG = "drift.severity"
EVIDENTLY_REPORT_ARTIFACT = "drift/evidently.html"


# --- Online scoring: the request log's columns beside each request's rows --------------------

# Written by the serving service (mlops_assets/serving) into every row of its request log, a
# scoring source whose day directories drift_report reads like any batch. Prefixed so they never
# meet a feature's name; scoring ignores them as extra columns.
SERVED_AT_COLUMN = "__served_at__"
SERVED_MODEL_VERSION_COLUMN = "__served_model_version__"
SERVED_PREDICTION_COLUMN = "__served_prediction__"
SERVED_SCORE_COLUMN = "__served_score__"
REQUEST_ID_COLUMN = "__request_id__"
# With a challenger beside the champion (MLOPS_SERVE_MODE shadow, canary or bandit): which role
# answered each row, and both models' predictions and versions (null where the challenger did
# not score). The `__served_*` columns above are the answer the client got.
SERVED_ROLE_COLUMN = "__served_role__"
CHAMPION_PREDICTION_COLUMN = "__champion_prediction__"
CHAMPION_VERSION_COLUMN = "__champion_version__"
CHALLENGER_PREDICTION_COLUMN = "__challenger_prediction__"
CHALLENGER_VERSION_COLUMN = "__challenger_version__"
# batch_predictions with a version holding `challenger` (shadow in batch): the challenger's
# prediction and version beside the champion's on every row (the two columns above), and its
# class probabilities, one per class: f"{CHALLENGER_PROBA_COLUMN_PREFIX}{label}".
CHALLENGER_PROBA_COLUMN_PREFIX = "__challenger_proba__"
