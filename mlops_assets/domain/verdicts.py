"""The words a verdict is made of, as types: how severe a day is, and which metric judged it.

Both cross modules (the drift and data-quality rules write a severity, the checks, the sensors
and the retraining rules read it back from metadata), so each has one definition here. They are
StrEnums: a member is its string (metadata, tags and JSON keep the words they always had, and
`Severity.CRITICAL == "critical"`), but Dagster's serializer refuses enums it does not know,
so what goes into Dagster metadata is the member's `.value`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Severity(StrEnum):
    """A day's severity (feature drift, data quality), from harmless to act-now."""

    NONE = "none"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0, 1, 2 in the order above: a worse severity ranks higher."""
        return list(Severity).index(self)

    @classmethod
    def read(cls, value: object, where: str) -> Severity:
        """The severity stored as `value`, or a ValueError naming `where` it was read from."""
        try:
            return cls(str(value))
        except ValueError:
            known = ", ".join(member.value for member in cls)
            raise ValueError(f"{where}: severity {value!r} is none of {known}.") from None


def worst(*severities: Severity) -> Severity:
    """The highest of the severities; NONE when there are none."""
    return max(severities, key=lambda severity: severity.rank, default=Severity.NONE)


class Metric(StrEnum):
    """The metric a day's performance verdict judges: accuracy (a classifier, realized or
    estimated), RMSE (a regressor's realized error), MAE (a regressor's estimated error)."""

    ACCURACY = "accuracy"
    RMSE = "rmse"
    MAE = "mae"

    @classmethod
    def read(cls, value: object, where: str) -> Metric:
        """The metric stored as `value`, or a ValueError naming `where` it was read from."""
        try:
            return cls(str(value))
        except ValueError:
            known = ", ".join(member.value for member in cls)
            raise ValueError(f"{where}: metric {value!r} is none of {known}.") from None


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
    data_quality_findings: tuple[str, ...] = ()
    """The missing-share and unseen-category rises beyond noise that are part of `severity`
    (domain/data_quality.py), one line each naming the column and its share."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "severity", Severity.read(self.severity, f"drift_report {self.day}")
        )

    @property
    def data_quality_summary(self) -> str:
        return _FINDINGS_SEPARATOR.join(self.data_quality_findings) or "none"

    @property
    def feature_severity(self) -> Severity:
        """The severity the features alone give the day (drift.engine's rule)."""
        if self.dataset_drift:
            return Severity.CRITICAL
        return Severity.WARNING if self.drifted_features else Severity.NONE

    @property
    def drift_source(self) -> str:
        """What made the day's severity, for the retraining reasons: "feature drift" when the
        features alone reach it, "data-quality drift" when only the data-quality findings do,
        "feature and data-quality drift" on a warning day with both."""
        if not self.data_quality_findings or self.severity == Severity.NONE:
            return "feature drift"
        if self.feature_severity.rank < self.severity.rank:
            return "data-quality drift"
        if self.severity == Severity.WARNING:
            return "feature and data-quality drift"
        return "feature drift"

    @property
    def what_drifted(self) -> str:
        """The drifted share, and the data-quality findings that are part of the severity, in
        one sentence (the drift check's description, the drift alert)."""
        share = f"{self.drifted_share:.0%} of features drifted"
        if self.data_quality_findings:
            share += f"; data-quality drift: {self.data_quality_summary}"
        return share

    def to_metadata(self) -> dict[str, MetadataValueLike]:
        return {
            "drifted_share": self.drifted_share,
            "severity": self.severity.value,
            "dataset_drift": self.dataset_drift,
            "drifted_features": self.drifted_features,
            "prediction_psi": self.prediction_psi,
            "prediction_drift": self.prediction_drift,
            "data_quality_drift": self.data_quality_summary,
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
            data_quality_findings=_findings(values.get("data_quality_drift")),
        )


_FINDINGS_SEPARATOR = "; "  # no finding's line holds it (data_quality._findings)


def _findings(summary: object) -> tuple[str, ...]:
    if summary is None or summary == "none":  # "none", or a report that predates the field
        return ()
    return tuple(str(summary).split(_FINDINGS_SEPARATOR))


# --- Delayed labels and label-free estimates ------------------------------------------------


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
