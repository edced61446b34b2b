"""How a monitoring verdict shows as health in the UI: pass, a warning, or an error.

The asset checks of drift_report and registered_model_version turn these into Dagster check
results (WARN / ERROR severities), so a critical drift day or a rejected challenger is yellow or
red where a person looks, not a plain green materialisation. None of them blocks: scoring and
monitoring go on, and the drift sensor decides about retraining on its own rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mlops_assets.domain.verdicts import DriftVerdict, EstimatedVerdict, RealizedVerdict, Severity

if TYPE_CHECKING:  # its scipy import stays out of the code location's load
    from mlops_assets.domain.data_quality import DataQualityResult

HealthLevel = Literal["pass", "warn", "error"]


@dataclass(frozen=True)
class Health:
    level: HealthLevel
    summary: str
    """One line a person reads in the check's description."""

    @property
    def passed(self) -> bool:
        return self.level == "pass"


def drift_day_health(verdict: DriftVerdict) -> Health:
    """Critical drift or a performance drop beyond noise is an error; a drift warning (or
    prediction drift on its own) is a warning; anything else passes. The data-quality findings
    that are part of the day's severity are named after the drifted share."""
    share = verdict.what_drifted
    performance = verdict.performance
    if performance.dropped:
        return Health("error", f"{performance.reason}; {share} (severity {verdict.severity})")
    if verdict.severity == Severity.CRITICAL:
        return Health("error", f"critical drift: {share}")
    if verdict.severity == Severity.WARNING:
        return Health("warn", f"drift warning: {share}")
    if verdict.prediction_drift:
        return Health(
            "warn",
            f"prediction drift (PSI {verdict.prediction_psi:.3f}) with {share}",
        )
    return Health("pass", f"no drift beyond the thresholds: {share}; {performance.reason}")


def data_quality_health(result: DataQualityResult) -> Health:
    """A critical data-quality finding (a quarter of a column's values unseen or newly missing,
    a quarter of the rows duplicated) is an error; any other finding a warning; each finding
    named with its column and share."""
    if result.severity == Severity.CRITICAL:
        return Health("error", f"data quality critical: {result.summary}")
    if result.severity == Severity.WARNING:
        return Health("warn", f"data quality warning: {result.summary}")
    return Health("pass", result.summary)


def promotion_health(version: str, outcome: str, reasons: Sequence[str]) -> Health:
    """A candidate the gate kept out of `champion` (`outcome` the gate's: promoted,
    challenger or rejected) is a warning naming why: nothing broke, but the retraining did
    not produce a better model and a person may want to know."""
    if outcome == "promoted":
        return Health("pass", f"v{version} promoted to champion")
    why = "; ".join(reasons) or "no reason recorded"
    if outcome == "challenger":
        return Health("warn", f"v{version} not promoted, now the challenger: {why}")
    return Health("warn", f"v{version} rejected (no alias): {why}")


def realized_health(verdict: RealizedVerdict) -> Health:
    """The labels' verdict: a drop beyond noise is an error (the model is failing)."""
    performance = verdict.performance
    if performance.dropped:
        return Health("error", performance.reason)
    return Health("pass", performance.reason)


def estimate_health(verdict: EstimatedVerdict) -> Health:
    """An estimated drop is a warning, not an error: the labels have not confirmed it yet. An
    estimate that cannot be trusted is a warning too, so nobody reads it as a figure."""
    if verdict.dropped:
        return Health("warn", verdict.reason)
    if not verdict.trusted:
        return Health("warn", f"estimate not trusted: {verdict.trust_reason}")
    return Health("pass", verdict.reason)
