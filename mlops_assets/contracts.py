"""Names that cross module boundaries, in one place: registry aliases, MLflow tag names,
artefact paths, run tags and the metadata that one asset writes and another (or a sensor)
reads. Dagster-free and import-cheap: the webserver, the daemon and every run load it.

A name defined here is the only definition; modules import it rather than repeat the string.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from mlops_assets.domain.verdicts import Metric, Severity

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
# The experiment tag MLflow 3's UI reads to pick an experiment's pages (its JS bundle's
# ExperimentKind enum): "custom_model_development" is "Machine learning", runs and models first;
# untagged, it guesses and opened ours on traces.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
ML_EXPERIMENT_KIND = "custom_model_development"
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

SCORING_CHECK = "scoring_data_conforms"
"""The blocking asset check of scoring_data (the day's batch against the champion's schema)."""
DRIFT_CHECK = "drift_within_bounds"
"""drift_report's check: WARN on a drift warning, ERROR on critical drift or a performance drop."""
DATA_QUALITY_CHECK = "data_quality_within_bounds"
"""drift_report's data-quality check: WARN on a rise in missing or unseen-category share beyond
noise or on duplicated rows, ERROR when a quarter of a column's values is hit (a file twice)."""
REALIZED_CHECK = "realized_performance_held"
"""realized_performance's check: ERROR when the labels show a drop beyond noise."""
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
ATTEMPT_TAG = "mlops/attempt"
REASON_TAG = "mlops/reason"
# The signals that alarmed on the streak a retraining was started for, comma-separated, in this
# order: a realized drop (labels), a trusted estimated drop (no labels yet), feature drift.
SIGNALS_TAG = "mlops/signals"
SIGNAL_REALIZED = "realized"
SIGNAL_ESTIMATED = "estimated"
SIGNAL_FEATURE_DRIFT = "feature drift"

MetadataScalar = float | int | bool | str
MetadataValueLike = MetadataScalar | Mapping[str, float | int | None]  # JSON: not plotted


def _plain(value: object) -> object:
    # Dagster's MetadataValue wrappers carry the stored value in `.value`; plain values pass.
    return getattr(value, "value", value)


@dataclass(frozen=True)
class PerformanceVerdict:
    """The day's metric against the champion's test figure, with both intervals and the call.

    `difference` is signed so that positive is worse: reference minus day for accuracy, the
    relative rise day / reference - 1 for RMSE. Values are None when the day has no labels or
    the champion records no test figure.
    """

    metric: Metric  # accuracy or rmse
    n: int  # labelled rows of the day
    day_value: float | None
    day_ci_low: float | None
    day_ci_high: float | None
    reference_value: float | None
    reference_n: int | None  # the champion's test rows; None: treated as exact
    difference: float | None
    difference_ci_low: float | None
    difference_ci_high: float | None
    min_effect: float
    confidence: float
    dropped: bool
    reason: str

    def __post_init__(self) -> None:
        # Held as the enum however it was given (a plain string reads the same); a typo fails here.
        object.__setattr__(self, "metric", Metric.read(self.metric, "PerformanceVerdict.metric"))

    def to_metadata(self) -> dict[str, MetadataValueLike]:
        """Flat, typed values (None left out): the day's figures as numbers that plot over
        partitions; what it was judged with as one `performance_settings` entry, `labelled_rows`
        only on a labelled day (`labelled` says which), so that nothing plots as a flat line."""
        m = self.metric.value
        values: dict[str, MetadataValueLike | None] = {
            "performance_dropped": self.dropped,
            "performance_reason": self.reason,
            "performance_metric": m,
            "labelled": self.n > 0,
            "labelled_rows": self.n if self.n > 0 else None,
            m: self.day_value,
            f"{m}_ci_low": self.day_ci_low,
            f"{m}_ci_high": self.day_ci_high,
            f"reference_{m}": self.reference_value,
            f"{m}_drop": self.difference,
            f"{m}_drop_ci_low": self.difference_ci_low,
            f"{m}_drop_ci_high": self.difference_ci_high,
            "performance_settings": dict(
                min_effect=self.min_effect, confidence=self.confidence, reference_n=self.reference_n
            ),
        }
        return {k: v for k, v in values.items() if v is not None}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, object]) -> PerformanceVerdict:
        """The verdict `to_metadata` wrote; an older report names its metric by its keys and was
        judged at 95 %; a report without performance figures reads as not judged."""
        values = {key: _plain(value) for key, value in metadata.items()}
        stored = str(values.get("performance_metric", ""))
        if stored:
            metric = Metric.read(stored, "performance_metric")
        else:
            rmse_keys = ("rmse", "reference_rmse", "rmse_drop")
            metric = Metric.RMSE if any(k in values for k in rmse_keys) else Metric.ACCURACY

        def number(key: str, default: float | None = None) -> float | None:
            value = values.get(key)
            return default if value is None else float(value)  # type: ignore[arg-type]

        settings = values.get("performance_settings")  # before it: a key for each value
        if isinstance(settings, Mapping):
            values.update({f"performance_{k}": v for k, v in settings.items()})
        reference_n = values.get("performance_reference_n", values.get("reference_n"))
        return cls(
            metric=metric,
            n=int(values.get("labelled_rows", 0)),  # type: ignore[call-overload]
            day_value=number(metric),
            day_ci_low=number(f"{metric}_ci_low"),
            day_ci_high=number(f"{metric}_ci_high"),
            reference_value=number(f"reference_{metric}"),
            reference_n=None if reference_n is None else int(reference_n),  # type: ignore[call-overload]
            difference=number(f"{metric}_drop"),
            difference_ci_low=number(f"{metric}_drop_ci_low"),
            difference_ci_high=number(f"{metric}_drop_ci_high"),
            min_effect=number("performance_min_effect", 0.0) or 0.0,
            confidence=number("performance_confidence", 0.95) or 0.95,
            dropped=bool(values.get("performance_dropped", False)),
            reason=str(values.get("performance_reason", "")),
        )


@dataclass(frozen=True)
class DriftVerdict:
    """What drift_report records for one day and drift_retraining_sensor and the demo read: the
    data's drift, the prediction drift and the day's performance, for the model that scored it.
    `to_metadata` gives the metadata's plain values (stored as typed MetadataValues: numbers plot
    over partitions); `from_metadata` reads a stored materialisation back, its partition the day."""

    day: date
    model_version: str
    severity: Severity
    drifted_share: float
    dataset_drift: bool
    drifted_features: int
    prediction_psi: float
    prediction_drift: bool
    performance: PerformanceVerdict

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "severity", Severity.read(self.severity, f"drift_report {self.day}")
        )

    def to_metadata(self) -> dict[str, MetadataValueLike]:
        return {
            "drifted_share": self.drifted_share,
            "severity": self.severity.value,
            "dataset_drift": self.dataset_drift,
            "drifted_features": self.drifted_features,
            "prediction_psi": self.prediction_psi,
            "prediction_drift": self.prediction_drift,
            "model_version": self.model_version,
            **self.performance.to_metadata(),
        }

    def to_mlflow_metrics(self) -> dict[str, float]:
        """The day's figures as MLflow metrics of its monitoring run (the severity is a tag:
        MLflow metrics are numbers). The day's metric only when the day was labelled."""
        metrics = {
            "drifted_share": self.drifted_share,
            "drifted_features": float(self.drifted_features),
            "prediction_psi": self.prediction_psi,
            "dataset_drift": float(self.dataset_drift),
            "performance_dropped": float(self.performance.dropped),
        }
        if self.performance.day_value is not None:
            metrics[self.performance.metric.value] = self.performance.day_value
            metrics["labelled_rows"] = float(self.performance.n)
        return metrics

    @classmethod
    def from_metadata(cls, day: date, metadata: Mapping[str, object]) -> DriftVerdict:
        """Only `severity` is required: a report that predates a figure reads it as unknown
        (NaN, 0, False or empty), which never alarms on its own."""
        values = {key: _plain(value) for key, value in metadata.items()}
        if "severity" not in values:
            raise KeyError(f"drift_report {day}: no `severity` in its metadata.")
        return cls(
            day=day,
            model_version=str(values.get("model_version", "")),
            severity=Severity.read(values["severity"], f"drift_report {day}"),
            drifted_share=float(values.get("drifted_share", math.nan)),  # type: ignore[arg-type]
            dataset_drift=bool(values.get("dataset_drift", False)),
            drifted_features=int(values.get("drifted_features", 0)),  # type: ignore[call-overload]
            prediction_psi=float(values.get("prediction_psi", math.nan)),  # type: ignore[arg-type]
            prediction_drift=bool(values.get("prediction_drift", False)),
            performance=PerformanceVerdict.from_metadata(values),
        )


# --- Delayed labels and label-free estimates ------------------------------------------------

# The asset names (LABELS_ASSET, ...) are in mlops_assets/asset_keys.py, with every asset's key.
# labels + realized_performance for the partitions whose labels were (re)delivered, started by
# the labels sensor when a delivery appears or changes in the labels source.
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


def _optional_float(values: Mapping[str, object], key: str) -> float | None:
    value = values.get(key)
    return None if value is None else float(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RealizedVerdict:
    """What realized_performance records for one day (and the sensor reads back): the scoring
    model's judged metric on the labels that have arrived, with how complete the join was.

    `performance` is the same verdict drift_report computes when labels come with the
    features. `estimate_error` is realized minus estimated (None when no estimate exists)."""

    day: date
    model_version: str
    performance: PerformanceVerdict
    predictions: int  # rows scored that day
    unlabelled_predictions: int  # predictions whose label has not arrived
    unmatched_labels: int  # delivered labels whose ids match no prediction
    estimate_error: float | None = None

    def to_metadata(self) -> dict[str, MetadataValueLike]:
        values: dict[str, MetadataValueLike | None] = {
            "model_version": self.model_version,
            "predictions": self.predictions,
            "unlabelled_predictions": self.unlabelled_predictions,
            "unmatched_labels": self.unmatched_labels,
            "estimate_error": self.estimate_error,
            **self.performance.to_metadata(),
        }
        return {k: v for k, v in values.items() if v is not None}

    @classmethod
    def from_metadata(cls, day: date, metadata: Mapping[str, object]) -> RealizedVerdict:
        values = {key: _plain(value) for key, value in metadata.items()}
        return cls(
            day=day,
            model_version=str(values.get("model_version", "")),
            performance=PerformanceVerdict.from_metadata(values),
            predictions=int(values.get("predictions", 0)),  # type: ignore[call-overload]
            unlabelled_predictions=int(values.get("unlabelled_predictions", 0)),  # type: ignore[call-overload]
            unmatched_labels=int(values.get("unmatched_labels", 0)),  # type: ignore[call-overload]
            estimate_error=_optional_float(values, "estimate_error"),
        )


@dataclass(frozen=True)
class EstimatedVerdict:
    """What estimated_performance records for one day from the predictions alone: the expected
    metric (accuracy for a classifier) from calibrated probabilities, its interval, whether
    the estimate can be trusted, and whether it dropped beyond noise below the reference (the
    scoring version's test figure). An untrusted estimate never counts as a drop."""

    day: date
    model_version: str
    metric: Metric  # accuracy (classifier); mae when a regressor's error is estimated
    value: float
    low: float
    high: float
    reference_value: float | None
    trusted: bool
    trust_reason: str
    dropped: bool
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "metric", Metric.read(self.metric, f"estimate {self.day}"))

    def to_metadata(self) -> dict[str, MetadataScalar]:
        m = self.metric.value
        values: dict[str, MetadataScalar | None] = {
            "model_version": self.model_version,
            "estimated_metric": m,
            f"estimated_{m}": self.value,
            f"estimated_{m}_low": self.low,
            f"estimated_{m}_high": self.high,
            f"reference_{m}": self.reference_value,
            "estimate_trusted": self.trusted,
            "estimate_trust_reason": self.trust_reason,
            "estimated_performance_dropped": self.dropped,
            "estimate_reason": self.reason,
        }
        return {k: v for k, v in values.items() if v is not None}

    @classmethod
    def from_metadata(cls, day: date, metadata: Mapping[str, object]) -> EstimatedVerdict:
        values = {key: _plain(value) for key, value in metadata.items()}
        m = Metric.read(values.get("estimated_metric", Metric.ACCURACY), f"estimate {day}")
        return cls(
            day=day,
            model_version=str(values.get("model_version", "")),
            metric=m,
            value=float(values.get(f"estimated_{m}", math.nan)),  # type: ignore[arg-type]
            low=float(values.get(f"estimated_{m}_low", math.nan)),  # type: ignore[arg-type]
            high=float(values.get(f"estimated_{m}_high", math.nan)),  # type: ignore[arg-type]
            reference_value=_optional_float(values, f"reference_{m}"),
            trusted=bool(values.get("estimate_trusted", False)),
            trust_reason=str(values.get("estimate_trust_reason", "")),
            dropped=bool(values.get("estimated_performance_dropped", False)),
            reason=str(values.get("estimate_reason", "")),
        )


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
