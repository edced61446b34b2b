"""Monitoring verdicts as UI health: each branch of the rules."""

from dataclasses import replace
from datetime import date

from mlops_assets.domain.health import (
    drift_day_health,
    estimate_health,
    promotion_health,
    realized_health,
)
from mlops_assets.domain.verdicts import (
    DriftVerdict,
    EstimatedVerdict,
    PerformanceVerdict,
    RealizedVerdict,
)

HELD = PerformanceVerdict(
    metric="accuracy", n=0, day_value=None, day_ci_low=None, day_ci_high=None,
    reference_value=None, reference_n=None, difference=None, difference_ci_low=None,
    difference_ci_high=None, min_effect=0.01, confidence=0.95, dropped=False,
    reason="no labelled rows this day; performance not judged",
)  # fmt: skip
CLEAN = DriftVerdict(
    day=date(2026, 1, 3), model_version="1", severity="none", drifted_share=0.0,
    dataset_drift=False, drifted_features=0, prediction_psi=0.01, prediction_drift=False,
    performance=HELD,
)  # fmt: skip


def test_clean_day_passes():
    health = drift_day_health(CLEAN)
    assert health.passed and health.level == "pass"


def test_warning_and_prediction_drift_warn():
    assert drift_day_health(replace(CLEAN, severity="warning")).level == "warn"
    assert drift_day_health(replace(CLEAN, prediction_drift=True)).level == "warn"


def test_critical_drift_and_a_performance_drop_are_errors():
    critical = drift_day_health(replace(CLEAN, severity="critical", drifted_share=0.4))
    assert critical.level == "error" and "40% of features" in critical.summary
    dropped = replace(HELD, dropped=True, reason="performance dropped: accuracy 0.7")
    health = drift_day_health(replace(CLEAN, performance=dropped))
    assert health.level == "error" and "performance dropped" in health.summary


def test_a_candidate_kept_out_of_champion_warns_with_the_gate_reasons():
    assert promotion_health("2", "promoted", ()).passed
    kept = promotion_health("2", "challenger", ("interval includes 0",))
    assert kept.level == "warn" and "now the challenger: interval includes 0" in kept.summary
    rejected = promotion_health("2", "rejected", ("worse than champion beyond noise",))
    assert rejected.level == "warn"
    assert "rejected (no alias): worse than champion" in rejected.summary


def test_a_realized_drop_is_an_error_and_a_held_day_passes():
    held = RealizedVerdict(date(2026, 1, 9), "1", HELD, 1000, 0, 0)
    assert realized_health(held).passed
    dropped = replace(held, performance=replace(HELD, dropped=True, reason="dropped: 0.41"))
    health = realized_health(dropped)
    assert health.level == "error" and "0.41" in health.summary


def test_an_estimated_drop_or_an_untrusted_estimate_warns():
    trusted = EstimatedVerdict(
        date(2026, 1, 9), "1", "accuracy", 0.8, 0.78, 0.82, 0.79, True, "calibrated",
        False, "estimate held",
    )  # fmt: skip
    assert estimate_health(trusted).passed
    assert estimate_health(replace(trusted, dropped=True, reason="dropped")).level == "warn"
    untrusted = estimate_health(replace(trusted, trusted=False, trust_reason="ECE 0.09"))
    assert untrusted.level == "warn" and "ECE 0.09" in untrusted.summary
