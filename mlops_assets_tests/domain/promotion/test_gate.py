import numpy as np
import pytest

from mlops_assets.contracts import CHAMPION_ALIAS, PROMOTED_AT_TAG
from mlops_assets.domain.evaluation import PairedComparison, paired_bootstrap
from mlops_assets.domain.promotion import (
    DEFAULT_MIN_METRICS,
    VERSION_PLACEHOLDER,
    GateCheck,
    GateConfig,
    GateDecision,
    GateOutcome,
    decide_promotion,
    description_from_tags,
    gate_tags,
    previous_champion,
    promote_version_command,
)
from mlops_assets.domain.registry import RegistryVersion

GATE = GateConfig(min_metrics={"roc_auc": 0.6}, max_metrics={"log_loss": 0.7})
GOOD_METRICS = {"roc_auc": 0.82, "log_loss": 0.45, "accuracy": 0.8}


def _comparison(improvement: float, ci_low: float, ci_high: float) -> PairedComparison:
    return PairedComparison(
        metric="log_loss",
        n=1000,
        champion_loss=0.5,
        challenger_loss=0.5 - improvement,
        improvement=improvement,
        ci_low=ci_low,
        ci_high=ci_high,
        confidence=0.95,
    )


CLEARLY_BETTER = _comparison(0.05, 0.03, 0.07)
NOISE = _comparison(0.0012, -0.004, 0.006)


def _decide(**overrides):
    arguments = {
        "candidate_metrics": GOOD_METRICS,
        "gate": GATE,
        "schema_compatible": True,
        "schema_detail": "compatible",
        "overall": CLEARLY_BETTER,
        "slices": [("region", "north", CLEARLY_BETTER)],
        **overrides,
    }
    return decide_promotion(**arguments)


def test_first_model_passing_the_thresholds_is_promoted():
    decision = _decide(schema_compatible=None, schema_detail="", overall=None, slices=())
    assert decision.promote
    assert decision.reasons == ("no champion yet: first model that passes the thresholds",)
    assert [(c.name, c.passed) for c in decision.checks] == [
        ("min:roc_auc", True),
        ("max:log_loss", True),
        ("no_target_leakage", True),
    ]


def test_a_leaky_model_is_not_promoted_even_when_clearly_better():
    decision = _decide(leaky_features=("boat", "body"))
    assert not decision.promote
    check = next(c for c in decision.checks if c.name == "no_target_leakage")
    assert not check.passed and "boat, body" in check.detail
    (reason,) = decision.reasons
    assert "boat, body" in reason and "allow_leaky_features" in reason
    assert "promote_version_job" in reason
    assert decision.as_tags()["gate.check.no_target_leakage"] == "failed"


def test_a_leaky_first_model_does_not_become_champion():
    decision = _decide(
        schema_compatible=None, schema_detail="", overall=None, slices=(), leaky_features=("x",)
    )
    assert not decision.promote


def test_allow_leaky_features_lets_the_other_checks_decide():
    gate = GateConfig(min_metrics=GATE.min_metrics, allow_leaky_features=True)
    decision = _decide(gate=gate, leaky_features=("boat",))
    assert decision.promote
    check = next(c for c in decision.checks if c.name == "no_target_leakage")
    assert check.passed and "allowed" in check.detail


def test_manual_promotion_message_gives_the_promote_version_job_command():
    (reason,) = _decide(schema_compatible=False, schema_detail="column x removed").reasons
    assert promote_version_command(VERSION_PLACEHOLDER) in reason
    assert promote_version_command("7") == (
        "dagster job execute -m mlops_assets.definitions -j promote_version_job -c <(echo "
        """'{"ops": {"promote_version": {"config": {"version": "7", "reason": "<why>"}}}}')"""
    )


def test_threshold_miss_rejects_and_names_the_metric():
    decision = _decide(
        candidate_metrics={"roc_auc": 0.55, "log_loss": 0.45},
        schema_compatible=None,
        overall=None,
        slices=(),
    )
    assert not decision.promote
    assert len(decision.reasons) == 1
    assert "roc_auc" in decision.reasons[0] and "0.55" in decision.reasons[0]
    assert "below the minimum 0.6" in decision.reasons[0]


def test_max_threshold_miss_rejects_even_when_better_than_the_champion():
    decision = _decide(candidate_metrics={"roc_auc": 0.9, "log_loss": 0.8})
    assert not decision.promote
    assert decision.reasons == ("log_loss 0.8 is above the maximum 0.7",)


def test_missing_or_nan_metric_fails_its_threshold_with_its_name():
    decision = _decide(
        candidate_metrics={"log_loss": 0.4, "roc_auc": float("nan")},
        gate=GateConfig(min_metrics={"roc_auc": 0.6, "r2": 0.0}, max_metrics={}),
        schema_compatible=None,
    )
    assert not decision.promote
    assert "roc_auc is NaN" in decision.reasons[0]
    assert "r2 is not among the candidate's metrics" in decision.reasons[1]


def test_improvement_within_noise_is_not_promoted():
    decision = _decide(overall=NOISE)
    assert not decision.promote
    assert decision.reasons == (
        "not better than champion beyond noise: improvement +0.0012 in log_loss, "
        "95% CI [-0.004, +0.006] includes 0",
    )
    assert any("noise" in reason for reason in decision.reasons)
    checks = {c.name: c.passed for c in decision.checks}
    assert checks == {
        "min:roc_auc": True,
        "max:log_loss": True,
        "no_target_leakage": True,
        "schema_compatible": True,
        "beats_champion": False,
        "slices": True,
    }


def test_identical_models_are_not_promoted_over_the_champion():
    loss = np.random.default_rng(0).exponential(size=500)
    same = paired_bootstrap(loss, loss.copy(), metric="log_loss")
    decision = _decide(overall=same, slices=())
    assert not decision.promote
    assert "noise" in decision.reasons[0]


def test_clearly_better_challenger_is_promoted_with_a_positive_reason():
    decision = _decide()
    assert decision.promote
    assert len(decision.reasons) == 1
    assert decision.reasons[0].startswith("better than champion beyond noise: improvement +0.05")
    assert all(check.passed for check in decision.checks)


def test_min_improvement_raises_the_bar():
    decision = _decide(gate=GateConfig(min_metrics={}, max_metrics={}, min_improvement=0.04))
    assert not decision.promote
    assert "not by the required margin" in decision.reasons[0]
    assert "+0.04" in decision.reasons[0]


def test_clearly_worse_challenger_is_rejected():
    decision = _decide(overall=_comparison(-0.05, -0.07, -0.03))
    assert not decision.promote
    assert decision.reasons[0].startswith("worse than champion beyond noise")


def test_incompatible_schema_rejects_and_says_what_to_do():
    decision = _decide(
        schema_compatible=False, schema_detail="column income removed", overall=None, slices=()
    )
    assert not decision.promote
    assert len(decision.reasons) == 1
    reason = decision.reasons[0]
    assert "column income removed" in reason
    assert "promote this version manually" in reason and "retrain the champion" in reason
    schema_check = next(c for c in decision.checks if c.name == "schema_compatible")
    assert schema_check == GateCheck("schema_compatible", False, "column income removed")


def test_a_slice_clearly_worse_blocks_promotion_and_is_named():
    worse = _comparison(-0.1, -0.15, -0.05)
    slightly_worse = _comparison(-0.02, -0.05, -0.01)
    decision = _decide(
        slices=[
            ("region", "north", CLEARLY_BETTER),
            ("region", "south", worse),
            ("plan", "basic", slightly_worse),
        ]
    )
    assert not decision.promote
    assert len(decision.reasons) == 1
    assert "region=south" in decision.reasons[0]
    assert "plan=basic" not in decision.reasons[0]
    assert {c.name: c.passed for c in decision.checks}["slices"] is False


def test_as_tags_records_decision_reasons_and_every_check():
    decision = _decide(overall=NOISE)
    assert decision.as_tags() == {
        "gate.decision": "challenger",
        "gate.reasons": decision.reasons[0],
        "gate.check.min:roc_auc": "passed",
        "gate.check.max:log_loss": "passed",
        "gate.check.no_target_leakage": "passed",
        "gate.check.schema_compatible": "passed",
        "gate.check.beats_champion": "failed",
        "gate.check.slices": "passed",
    }
    assert _decide().as_tags()["gate.decision"] == "promoted"


def test_as_tags_truncates_long_reasons_and_sanitises_check_names():
    decision = GateDecision(
        outcome=GateOutcome.REJECTED,
        checks=(GateCheck("min:f1@0.5", False, ""),),
        reasons=("x" * 3000, "y" * 3000),
    )
    tags = decision.as_tags()
    assert len(tags["gate.reasons"]) == 5000
    assert tags["gate.reasons"].startswith("x" * 3000 + "; y")
    assert tags["gate.check.min:f1_0.5"] == "failed"


def _version(version: str, promoted_at: str | None, *aliases: str) -> RegistryVersion:
    tags = {} if promoted_at is None else {PROMOTED_AT_TAG: promoted_at}
    return RegistryVersion(
        version, aliases=tuple(aliases), tags=tags, created_at_ms=int(version) * 1000
    )


def test_previous_champion_is_the_latest_promoted_version_that_is_not_champion():
    versions = [
        _version("1", "2026-01-01T00:00:00+00:00"),
        _version("2", "2026-01-03T00:00:00+00:00"),
        _version("3", None, "challenger"),
        # 2 Jan 23:30 at UTC-2 is 3 Jan 01:30 UTC: after v2, though its text sorts before.
        _version("4", "2026-01-02T23:30:00-02:00"),
        _version("5", "2026-01-05T00:00:00+00:00", CHAMPION_ALIAS),
    ]
    assert previous_champion(versions).version == "4"
    assert previous_champion([v for v in versions if v.version != "4"]).version == "2"


def test_previous_champion_is_none_without_an_earlier_champion():
    assert previous_champion([]) is None
    assert previous_champion([_version("1", "2026-01-01T00:00:00+00:00", "champion")]) is None
    assert previous_champion([_version("1", None), _version("2", None, "challenger")]) is None


def test_previous_champion_rejects_an_unreadable_promotion_time():
    with pytest.raises(ValueError, match=r"version 1: tag champion.promoted_at='yesterday'"):
        previous_champion([_version("1", "yesterday")])


def test_gate_without_floors_takes_the_tasks_default_floors():
    assert GateConfig().for_task("binary").min_metrics == {"roc_auc": 0.6}
    assert GateConfig().for_task("regression").min_metrics == DEFAULT_MIN_METRICS["regression"]
    configured = GateConfig(min_metrics={"accuracy": 0.9}, slice_tolerance=0.1)
    assert configured.for_task("binary") == configured
    # The other settings survive the default floors.
    assert GateConfig(min_improvement=0.01).for_task("multiclass").min_improvement == 0.01


def test_gate_config_field_defaults_are_the_documented_ones():
    gate = GateConfig()
    assert (gate.min_metrics, gate.max_metrics) == ({}, {})
    assert (gate.min_improvement, gate.slice_tolerance, gate.allow_leaky_features) == (
        0.0,
        0.02,
        False,
    )


def test_the_gate_page_and_the_page_rebuilt_from_its_tags_open_with_the_same_verdict():
    for outcome, headline in (
        (GateOutcome.PROMOTED, "Promoted to champion"),
        (GateOutcome.CHALLENGER, "Not promoted: the challenger"),
        (GateOutcome.REJECTED, "Rejected (no alias)"),
    ):
        passed = outcome is GateOutcome.PROMOTED
        decision = GateDecision(outcome, (GateCheck("min:roc_auc", passed, ""),), ("why",))
        live = decision.as_description("3").splitlines()[0]
        rebuilt = description_from_tags("4", gate_tags(decision, "3")).splitlines()[0]
        assert live == rebuilt and live.startswith(f"**Gate decision: {headline}")
        assert gate_tags(decision, "3")["gate.decision"] == outcome
    interrupted = description_from_tags("4", {"gate.decision": "interrupted"})
    assert interrupted.startswith("**Gate decision: Approved, but never champion")
    assert "promote_version_job" in interrupted
    # A value this gate never writes (a tag set by hand) is shown as it is.
    assert description_from_tags("4", {"gate.decision": "on hold"}).startswith(
        "**Gate decision: on hold**"
    )


def test_the_gate_has_three_outcomes_from_the_comparison_and_the_hard_checks():
    assert _decide().outcome is GateOutcome.PROMOTED
    # Neither better nor worse beyond noise: the challenger, with its interval as evidence.
    within_noise = _decide(overall=NOISE)
    assert within_noise.outcome is GateOutcome.CHALLENGER
    assert (
        within_noise.evidence == "improvement +0.0012 in log_loss, 95% CI [-0.004, +0.006], n=1000"
    )
    # Better, but not by the required margin: not worse either, so the challenger.
    margin = _decide(gate=GateConfig(min_metrics={}, max_metrics={}, min_improvement=0.04))
    assert margin.outcome is GateOutcome.CHALLENGER
    # Worse beyond noise: rejected, no alias.
    worse = _decide(overall=_comparison(-0.05, -0.07, -0.03))
    assert worse.outcome is GateOutcome.REJECTED and "-0.07" in worse.evidence
    # Within noise, but a hard check failed: rejected.
    slice_worse = [("region", "south", _comparison(-0.1, -0.15, -0.05))]
    assert _decide(overall=NOISE, slices=slice_worse).outcome is GateOutcome.REJECTED
    servable = GateCheck("servable", False, "raw rows refused")
    assert _decide(overall=NOISE, serving_checks=(servable,)).outcome is GateOutcome.REJECTED
    contract = GateCheck("input_contract_compatible", False, "flag: boolean -> string")
    rejected = _decide(overall=NOISE, serving_checks=(contract,))
    assert rejected.outcome is GateOutcome.REJECTED
    assert any("flag: boolean -> string" in reason for reason in rejected.reasons)
    assert _decide(overall=NOISE, leaky_features=("x",)).outcome is GateOutcome.REJECTED
    incompatible = _decide(schema_compatible=False, schema_detail="x removed", overall=None)
    assert incompatible.outcome is GateOutcome.REJECTED
    assert incompatible.as_tags()["gate.decision"] == "rejected"
