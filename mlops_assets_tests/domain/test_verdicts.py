"""Severity and Metric: one vocabulary for verdicts, stored as the same words as before."""

from dataclasses import replace
from datetime import date
from enum import Enum

import dagster as dg
import pytest

from mlops_assets.domain.retraining import DayVerdict
from mlops_assets.domain.verdicts import (
    DriftVerdict,
    EstimatedVerdict,
    Metric,
    PerformanceVerdict,
    Severity,
    worst,
)

DAY = date(2026, 1, 9)
HELD = PerformanceVerdict(
    metric=Metric.ACCURACY, n=500, day_value=0.9, day_ci_low=0.87, day_ci_high=0.92,
    reference_value=0.91, reference_n=2000, difference=0.01, difference_ci_low=-0.02,
    difference_ci_high=0.04, min_effect=0.01, confidence=0.95, dropped=False, reason="held",
)  # fmt: skip
ESTIMATE = EstimatedVerdict(
    DAY, "3", Metric.MAE, 1.2, 1.1, 1.3, 1.0, True, "loss model", True, "error rose"
)
CRITICAL = DriftVerdict(
    day=DAY, model_version="3", severity=Severity.CRITICAL, drifted_share=0.6,
    dataset_drift=True, drifted_features=6, prediction_psi=0.3, prediction_drift=True,
    performance=HELD,
)  # fmt: skip


def test_the_worst_severity_is_the_highest_and_none_without_any():
    assert worst(Severity.WARNING, Severity.CRITICAL, Severity.NONE) is Severity.CRITICAL
    assert worst(Severity.NONE, Severity.WARNING) is Severity.WARNING
    assert worst() is Severity.NONE


def _plain(metadata: dict) -> bool:
    """No enum among the keys and the values: Dagster stores only the plain types."""
    return all(type(key) is str for key in metadata) and not any(
        isinstance(value, Enum) for value in metadata.values()
    )


def test_metadata_keeps_the_plain_words_and_reads_back_as_the_enums():
    metadata = CRITICAL.to_metadata()
    assert _plain(metadata) and _plain(ESTIMATE.to_metadata())
    assert metadata["severity"] == "critical" and metadata["performance_metric"] == "accuracy"
    assert metadata["accuracy"] == 0.9 and ESTIMATE.to_metadata()["estimated_mae"] == 1.2
    back = DriftVerdict.from_metadata(DAY, metadata)
    assert back == CRITICAL
    assert back.severity is Severity.CRITICAL and back.performance.metric is Metric.ACCURACY
    assert EstimatedVerdict.from_metadata(DAY, ESTIMATE.to_metadata()) == ESTIMATE
    assert set(CRITICAL.to_mlflow_metrics()) >= {"accuracy", "drifted_share"}
    assert all(type(key) is str for key in CRITICAL.to_mlflow_metrics())


def test_a_verdicts_metadata_is_stored_by_a_real_dagster_instance():
    # Dagster's serializer refuses enums it does not know: the metadata must hold plain strings.
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                "drift_report", partition=DAY.isoformat(), metadata=CRITICAL.to_metadata()
            )
        )
        stored = instance.fetch_materializations(dg.AssetKey("drift_report"), limit=1).records
        metadata = stored[0].asset_materialization.metadata
    assert metadata["severity"].value == "critical"
    assert DriftVerdict.from_metadata(DAY, metadata).severity is Severity.CRITICAL


def test_plain_strings_are_held_as_the_enums():
    verdict = replace(CRITICAL, severity="warning", performance=replace(HELD, metric="rmse"))
    assert verdict.severity is Severity.WARNING and verdict.performance.metric is Metric.RMSE
    assert DayVerdict(DAY, "critical", False).severity is Severity.CRITICAL


def test_an_unknown_severity_or_metric_fails_naming_where_it_was_read():
    with pytest.raises(ValueError, match=r"drift_report 2026-01-09: severity 'critcal' is none of"):
        DriftVerdict.from_metadata(DAY, {**CRITICAL.to_metadata(), "severity": "critcal"})
    with pytest.raises(ValueError, match=r"estimate 2026-01-09: metric 'auc' is none of"):
        EstimatedVerdict(DAY, "1", "auc", 0.8, 0.7, 0.9, None, True, "", False, "")  # type: ignore[arg-type]


def test_the_drift_source_says_what_made_the_days_severity():
    """What drift_retraining_sensor reads back from drift_report's metadata names the cause
    of the severity: the features, the data quality, or both."""
    finding = "`depth`: 22.0% missing against 10.0% in training"

    def read(severity: str, drifted: int, dataset_drift: bool, quality: str) -> str:
        metadata = {
            "severity": severity,
            "drifted_features": drifted,
            "dataset_drift": dataset_drift,
            "data_quality_drift": quality,
        }
        return DriftVerdict.from_metadata(DAY, metadata).drift_source

    assert read("critical", 1, False, finding) == "data-quality drift"
    assert read("warning", 0, False, finding) == "data-quality drift"
    assert read("warning", 1, False, finding) == "feature and data-quality drift"
    assert read("critical", 5, True, finding) == "feature drift"
    assert read("critical", 5, True, "none") == "feature drift"
    assert read("none", 0, False, "none") == "feature drift"
    # drift_retraining_sensor's reading of the same metadata carries it to the reasons.
    from mlops_assets.defs.retraining.sensors import day_verdict

    metadata = {"severity": "critical", "drifted_features": 1, "data_quality_drift": finding}
    assert day_verdict(DAY, metadata).drift_source == "data-quality drift"
