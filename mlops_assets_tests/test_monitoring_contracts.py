"""The drift verdict contract: what drift_report writes is what the sensor and the demo read,
including reports written before the contract existed."""

import math
from datetime import date

import dagster as dg
import pytest

from mlops_assets.domain.verdicts import DriftVerdict, PerformanceVerdict

DAY = date(2026, 1, 5)


def _performance(**changes) -> PerformanceVerdict:
    values = dict(
        metric="accuracy",
        n=500,
        day_value=0.91,
        day_ci_low=0.88,
        day_ci_high=0.93,
        reference_value=0.95,
        reference_n=2000,
        difference=0.04,
        difference_ci_low=0.01,
        difference_ci_high=0.07,
        min_effect=0.01,
        confidence=0.9,
        dropped=True,
        reason="performance dropped: accuracy 0.910 ...",
    )
    return PerformanceVerdict(**{**values, **changes})


def _unlabelled(**overrides):
    """A day whose labels come later: no rows judged, no figures."""
    return _performance(
        n=0,
        day_value=None,
        day_ci_low=None,
        day_ci_high=None,
        difference=None,
        difference_ci_low=None,
        difference_ci_high=None,
        dropped=False,
        **overrides,
    )


def _verdict(performance: PerformanceVerdict) -> DriftVerdict:
    return DriftVerdict(
        day=DAY,
        model_version="4",
        severity="critical",
        drifted_share=0.6,
        dataset_drift=True,
        drifted_features=3,
        prediction_psi=0.31,
        prediction_drift=True,
        performance=performance,
    )


@pytest.mark.parametrize(
    "performance",
    [
        _performance(),
        _performance(metric="rmse", day_value=12.0, reference_value=10.0, reference_n=None),
        _unlabelled(reason="no labelled rows this day; performance not judged"),
    ],
)
def test_a_verdict_reads_back_as_written(performance):
    verdict = _verdict(performance)
    assert DriftVerdict.from_metadata(DAY, verdict.to_metadata()) == verdict


def test_the_metadata_keeps_the_keys_the_ui_plots():
    metadata = _verdict(_performance()).to_metadata()
    assert metadata["severity"] == "critical" and metadata["drifted_share"] == 0.6
    assert metadata["accuracy"] == 0.91 and metadata["reference_accuracy"] == 0.95
    assert metadata["accuracy_drop_ci_low"] == 0.01 and metadata["labelled_rows"] == 500
    assert metadata["performance_dropped"] is True and metadata["model_version"] == "4"
    assert not any(key.startswith(("day_metric", "champion_metric")) for key in metadata)


def test_a_day_without_labels_plots_no_constant_figures():
    # Labels delivered later: drift_report judges no rows. Zero rows, the confidence level and
    # the smallest effect would each plot as a flat line across every day.
    unlabelled = _unlabelled()
    metadata = _verdict(unlabelled).to_metadata()
    assert metadata["labelled"] is False
    for constant in ("labelled_rows", "performance_confidence", "performance_min_effect"):
        assert constant not in metadata
    assert metadata["performance_settings"] == {
        "min_effect": 0.01,
        "confidence": 0.9,
        "reference_n": 2000,
    }
    stored = dg.AssetMaterialization("drift_report", metadata=metadata).metadata
    assert isinstance(stored["performance_settings"], dg.JsonMetadataValue)  # shown, not plotted
    assert DriftVerdict.from_metadata(DAY, stored).performance == unlabelled


def test_stored_metadata_values_read_back_through_dagster_wrappers():
    verdict = _verdict(_performance())
    stored = dg.AssetMaterialization("drift_report", metadata=verdict.to_metadata()).metadata
    assert all(isinstance(value, dg.MetadataValue) for value in stored.values())
    assert DriftVerdict.from_metadata(DAY, stored) == verdict


def test_a_report_written_before_the_contract_still_parses():
    # drift_report's metadata before the verdict type: no performance_metric or confidence,
    # the day_metric_ aliases, and the Markdown and path entries beside the figures.
    old = {
        "drifted_share": dg.MetadataValue.float(0.25),
        "severity": dg.MetadataValue.text("warning"),
        "dataset_drift": dg.MetadataValue.bool(False),
        "drifted_features": dg.MetadataValue.int(1),
        "prediction_psi": dg.MetadataValue.float(0.05),
        "prediction_drift": dg.MetadataValue.bool(False),
        "model_version": dg.MetadataValue.text("2"),
        "features": dg.MetadataValue.md("| feature |"),
        "report_json": dg.MetadataValue.path("/tmp/2026-01-05.json"),
        "performance_dropped": dg.MetadataValue.bool(False),
        "performance_reason": dg.MetadataValue.text("performance held: rmse ..."),
        "labelled_rows": dg.MetadataValue.int(300),
        "rmse": dg.MetadataValue.float(10.5),
        "reference_rmse": dg.MetadataValue.float(10.0),
        "rmse_drop": dg.MetadataValue.float(0.05),
        "performance_min_effect": dg.MetadataValue.float(0.01),
        "day_metric_rmse": dg.MetadataValue.float(10.5),
        "champion_metric_rmse": dg.MetadataValue.float(10.0),
    }
    verdict = DriftVerdict.from_metadata(DAY, old)
    assert (verdict.severity, verdict.drifted_features, verdict.model_version) == (
        "warning",
        1,
        "2",
    )
    performance = verdict.performance
    assert (performance.metric, performance.n, performance.day_value) == ("rmse", 300, 10.5)
    assert performance.reference_value == 10.0 and performance.difference == 0.05
    assert performance.confidence == 0.95 and not performance.dropped


def test_a_minimal_report_reads_as_unknown_figures_that_never_alarm():
    verdict = DriftVerdict.from_metadata(DAY, {"severity": "none"})
    assert math.isnan(verdict.drifted_share) and math.isnan(verdict.prediction_psi)
    assert not verdict.dataset_drift and not verdict.performance.dropped
    assert verdict.performance.day_value is None
    with pytest.raises(KeyError, match="drift_report 2026-01-05: no `severity`"):
        DriftVerdict.from_metadata(DAY, {"drifted_share": 0.5})
