"""The promotion gate: whether a candidate takes the `champion` alias, check by check.

A candidate replaces the champion only when every named check passes: absolute metric
thresholds, schema compatibility, an improvement whose confidence interval clears zero (not a
difference the test split's noise could produce), and no slice where it is clearly worse.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from mlops_assets.contracts import (
    EVALUATED_AGAINST_TAG,
    GATE_CHECK_TAG_PREFIX,
    GATE_DECISION_TAG,
    GATE_REASONS_TAG,
)
from mlops_assets.domain.evaluation import PairedComparison
from mlops_assets.domain.promotion.comparison import ChampionComparison


class GateOutcome(StrEnum):
    """The gate's decision as the `gate.decision` tag records it (a StrEnum: the tag's value is
    the member's). Each outcome says which alias the version takes (moves.py sets it)."""

    PROMOTED = "promoted"
    """Takes `champion`: better than the champion beyond noise, every check passed."""
    CHALLENGER = "challenger"
    """Takes `challenger` (replacing any earlier one): every hard check passed, and the
    comparison could prove it neither better nor worse, so live evidence is to judge it."""
    REJECTED = "rejected"
    """No alias: worse than the champion beyond noise, or a hard check failed (thresholds,
    leakage, input contract, servability, schema, a slice clearly worse)."""
    INTERRUPTED = "interrupted"
    """Approved, but its promotion was killed before it moved `champion` (history.py)."""


# The headline of a version's gate page in MLflow, per outcome.
OUTCOME_HEADLINES: Mapping[GateOutcome, str] = {
    GateOutcome.PROMOTED: "Promoted to champion",
    GateOutcome.CHALLENGER: "Not promoted: the challenger (live evidence to decide)",
    GateOutcome.REJECTED: "Rejected (no alias)",
    GateOutcome.INTERRUPTED: "Approved, but never champion: the promotion was interrupted",
}

# The evidence of a decision taken with no champion to compare with.
NO_CHAMPION = "no champion to compare with"

# Stands for the candidate's version number in gate reasons: they are written before the
# version is registered; the asset fills the number in once it is known.
VERSION_PLACEHOLDER = "<version>"


@dataclass(frozen=True)
class ManualPromotion:
    """The job a person runs to give a version of this model a role by hand, and its op (the
    run config's `ops` key): the model's own promote_version_job, which the gate's reasons
    name (asset_keys.ModelNames.manual_promotion: `car_loan__promote_version_job`). The
    default is the default model's."""

    job: str = "promote_version_job"
    op: str = "promote_version"


DEFAULT_MANUAL_PROMOTION = ManualPromotion()

# Absolute floors used when the run config sets none: better than chance, whatever the data.
DEFAULT_MIN_METRICS: Mapping[str, Mapping[str, float]] = {
    "binary": {"roc_auc": 0.6},
    "multiclass": {"balanced_accuracy": 0.4},
    "regression": {"r2": 0.0},
}

# MLflow holds run and model-version tag values of at least this length on every backend.
MAX_TAG_VALUE = 5000
# Characters MLflow accepts in a tag key; a user-configured metric name may hold others.
_TAG_KEY_UNSAFE = re.compile(r"[^\w.\-:]")


class GateConfig(BaseModel):
    """The promotion gate's settings: a model's YAML `gate:`, and the resource its
    registered_model_version judges by (defs/champion/registry.py: PromotionGate, this model
    with Dagster's resource base; PromotionConfig, the run's changes, takes its field names and
    descriptions). Descriptions are `Field`s, not attribute docstrings: pydantic reads those
    from the source when the class is created (with `inspect`, which looks for the file among
    every loaded module), in every process that loads the code location (bench/RESULTS.md)."""

    # Unknown keys fail: a misspelt field in a model's YAML `gate:` would keep its default.
    model_config = ConfigDict(frozen=True, extra="forbid")

    min_metrics: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "Test metrics the candidate must reach (>=); empty: a better-than-chance floor by task."
        ),
    )
    max_metrics: dict[str, float] = Field(
        default_factory=dict,
        description='Test metrics the candidate must not exceed (<=), e.g. {"log_loss": 0.6}.',
    )
    min_improvement: float = Field(
        default=0.0,
        description=(
            "Lower bound the improvement's confidence interval must clear to replace the champion."
        ),
    )
    slice_tolerance: float = Field(
        default=0.02,
        description="A slice whose whole interval is below -slice_tolerance blocks promotion.",
    )
    allow_leaky_features: bool = Field(
        default=False,
        description=(
            "Let a model whose features the leakage guard flagged (trained_model's check "
            "no_target_leakage) become champion; off by default."
        ),
    )

    def for_task(self, task: str) -> GateConfig:
        """The gate with the task's default floors (DEFAULT_MIN_METRICS) when it sets none."""
        if self.min_metrics:
            return self
        return GateConfig(**{**self.model_dump(), "min_metrics": dict(DEFAULT_MIN_METRICS[task])})


@dataclass(frozen=True)
class GateCheck:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateDecision:
    outcome: GateOutcome
    checks: tuple[GateCheck, ...]
    reasons: tuple[str, ...]
    """One per failed check, or a single reason for promoting."""
    evidence: str = ""
    """The comparison with the champion the decision rests on (effect, interval, rows), or
    why there was none: what the audit trail records with the move."""

    @property
    def promote(self) -> bool:
        return self.outcome is GateOutcome.PROMOTED

    def as_tags(self) -> dict[str, str]:
        """MLflow tags recording the decision, its reasons and each check's outcome."""
        reasons = "; ".join(self.reasons)
        if len(reasons) > MAX_TAG_VALUE:
            reasons = reasons[: MAX_TAG_VALUE - 1] + "…"
        tags = {
            GATE_DECISION_TAG: self.outcome.value,
            GATE_REASONS_TAG: reasons,
        }
        for check in self.checks:
            key = GATE_CHECK_TAG_PREFIX + _TAG_KEY_UNSAFE.sub("_", check.name)
            tags[key] = "passed" if check.passed else "failed"
        return tags

    def as_description(self, judged_against: str | None) -> str:
        """The decision as the Markdown a person reads on the version's page in MLflow."""
        lines = [
            f"**Gate decision: {OUTCOME_HEADLINES[self.outcome]}**, judged against champion "
            f"{'v' + judged_against if judged_against else 'none'}.",
            "",
            *(f"- {reason}" for reason in self.reasons),
        ]
        if self.checks:
            lines += ["", "| check | outcome | detail |", "| --- | --- | --- |"]
            lines += [
                f"| {c.name} | {'passed' if c.passed else 'failed'} | {c.detail} |"
                for c in self.checks
            ]
        return "\n".join(lines)


def decide_promotion(
    *,
    candidate_metrics: Mapping[str, float],
    gate: GateConfig,
    schema_compatible: bool | None,
    schema_detail: str,
    overall: PairedComparison | None,
    slices: Sequence[tuple[str, str, PairedComparison]],
    leaky_features: Sequence[str] = (),
    serving_checks: Sequence[GateCheck] = (),
    manual: ManualPromotion = DEFAULT_MANUAL_PROMOTION,
) -> GateDecision:
    """Whether the candidate takes the champion alias, check by check.

    `schema_compatible` is None when there is no champion: then the thresholds alone decide.
    `overall` and `slices` compare champion and candidate losses on the same test rows
    (improvement = champion loss - candidate loss); with an incompatible schema there is no
    such comparison and the candidate is rejected on the schema alone. `leaky_features` (from
    the leakage guard) block promotion unless the gate allows them: a leaking model's test
    metrics are too good to be true, so no threshold or comparison can vouch for it.
    `serving_checks` (input_contract_compatible, servable: services.servability) block
    promotion when failed: a version clients cannot call never takes `champion`. `manual`:
    the model's promote_version_job, which the reasons name when a person must decide.
    """
    checks: list[GateCheck] = []
    reasons: list[str] = []

    def add(check: GateCheck, reason: str) -> None:
        checks.append(check)
        if not check.passed:
            reasons.append(reason)

    for metric, bound in gate.min_metrics.items():
        add(*_threshold_check("min", metric, bound, candidate_metrics))
    for metric, bound in gate.max_metrics.items():
        add(*_threshold_check("max", metric, bound, candidate_metrics))
    add(*_leakage_check(leaky_features, gate.allow_leaky_features, manual))
    for check in serving_checks:
        add(check, f"{check.name} failed: {check.detail}")

    if schema_compatible is None:
        if reasons:
            return GateDecision(GateOutcome.REJECTED, tuple(checks), tuple(reasons), NO_CHAMPION)
        reasons.append("no champion yet: first model that passes the thresholds")
        return GateDecision(GateOutcome.PROMOTED, tuple(checks), tuple(reasons), NO_CHAMPION)

    add(
        GateCheck("schema_compatible", schema_compatible, schema_detail or "compatible"),
        f"schema incompatible with the champion's ({schema_detail}); promote this version "
        f"manually with {manual.job} ({promote_version_command(manual=manual)}), or retrain the "
        "champion's configuration with the new schema to compare",
    )
    if not schema_compatible:
        evidence = f"no comparison: schema incompatible ({schema_detail})"
        return GateDecision(GateOutcome.REJECTED, tuple(checks), tuple(reasons), evidence)
    hard_checks_passed = not reasons
    beats, beats_reason = _beats_champion_check(overall, gate.min_improvement)
    add(beats, beats_reason)
    slices_check, slices_reason = _slices_check(slices, gate.slice_tolerance)
    add(slices_check, slices_reason)
    hard_checks_passed = hard_checks_passed and slices_check.passed
    evidence = beats.detail
    if hard_checks_passed and beats.passed:
        return GateDecision(GateOutcome.PROMOTED, tuple(checks), (beats_reason,), evidence)
    # Not worse beyond noise (the interval reaches 0 or above) is no proof either way: the
    # candidate becomes the challenger, for the labelled traffic of the next days to judge.
    not_worse = overall is not None and overall.ci_high >= 0
    outcome = GateOutcome.CHALLENGER if hard_checks_passed and not_worse else GateOutcome.REJECTED
    return GateDecision(outcome, tuple(checks), tuple(reasons), evidence)


def judge(
    metrics: dict[str, float],
    gate: GateConfig,
    champion: ChampionComparison | None,
    leaky_features: Sequence[str],
    serving_checks: Sequence[GateCheck] = (),
    manual: ManualPromotion = DEFAULT_MANUAL_PROMOTION,
) -> GateDecision:
    """The gate's decision on a candidate compared with `champion` (None: no champion)."""
    return decide_promotion(
        candidate_metrics=metrics,
        gate=gate,
        schema_compatible=None if champion is None else champion.schema_compatible,
        schema_detail="" if champion is None else champion.schema_detail,
        overall=None if champion is None else champion.overall,
        slices=() if champion is None else champion.slices,
        leaky_features=leaky_features,
        serving_checks=serving_checks,
        manual=manual,
    )


def gate_tags(decision: GateDecision, judged_against: str | None) -> dict[str, str]:
    """The model-version tags of a decision, naming the champion it was judged against."""
    return {EVALUATED_AGAINST_TAG: judged_against or "none", **decision.as_tags()}


def promote_version_command(
    version: str = VERSION_PLACEHOLDER, manual: ManualPromotion = DEFAULT_MANUAL_PROMOTION
) -> str:
    """The CLI command that moves `champion` to `version` through the model's
    promote_version_job.

    `dagster job execute` reads run config from files only (`-c`); bash's process substitution
    makes the JSON one, as in the rollback command of docs/training.md.
    """
    config = (
        f'{{"ops": {{"{manual.op}": {{"config": {{"version": "{version}", "reason": "<why>"}}}}}}}}'
    )
    return f"dagster job execute -m mlops_assets.definitions -j {manual.job} -c <(echo '{config}')"


def _leakage_check(
    leaky_features: Sequence[str], allowed: bool, manual: ManualPromotion
) -> tuple[GateCheck, str]:
    if not leaky_features:
        return GateCheck("no_target_leakage", True, "no feature flagged"), ""
    listed = ", ".join(leaky_features)
    if allowed:
        detail = f"leaky features allowed by allow_leaky_features: {listed}"
        return GateCheck("no_target_leakage", True, detail), ""
    detail = f"features flagged as leaking the target: {listed}"
    reason = (
        f"{detail} (see the trained_model check no_target_leakage); exclude them "
        "(MLOPS_EXCLUDE_COLUMNS) and retrain, or set allow_leaky_features in the "
        "registered_model_version config, or promote this version manually with "
        f"{manual.job} ({promote_version_command(manual=manual)})"
    )
    return GateCheck("no_target_leakage", False, detail), reason


def _threshold_check(
    kind: str, metric: str, bound: float, metrics: Mapping[str, float]
) -> tuple[GateCheck, str]:
    name = f"{kind}:{metric}"
    relation = ">=" if kind == "min" else "<="
    value = metrics.get(metric)
    if value is None:
        detail = f"{metric} is not among the candidate's metrics ({', '.join(metrics)})"
        return GateCheck(name, False, detail), f"{detail}; cannot check {metric} {relation} {bound}"
    if math.isnan(value):
        detail = f"{metric} is NaN (undefined on the test split)"
        return GateCheck(name, False, detail), f"{detail}; cannot check {metric} {relation} {bound}"
    passed = value >= bound if kind == "min" else value <= bound
    detail = f"{metric} {value:.4g} {relation} {bound:.4g}"
    missed = "below the minimum" if kind == "min" else "above the maximum"
    return GateCheck(name, passed, detail), f"{metric} {value:.4g} is {missed} {bound:.4g}"


def _beats_champion_check(
    overall: PairedComparison | None, min_improvement: float
) -> tuple[GateCheck, str]:
    if overall is None:
        detail = "no paired comparison with the champion on the test split"
        return GateCheck("beats_champion", False, detail), f"not promoted: {detail}"
    described = f"{overall.describe()}, n={overall.n}"
    required = "" if min_improvement == 0 else f" (required: lower bound > {min_improvement:+.3g})"
    if overall.ci_low > min_improvement:
        floor = "0" if min_improvement == 0 else f"the required {min_improvement:+.3g}"
        reason = f"better than champion beyond noise: {overall.describe()} lies above {floor}"
        return GateCheck("beats_champion", True, described), reason
    if overall.ci_low <= 0 <= overall.ci_high:
        reason = f"not better than champion beyond noise: {overall.describe()} includes 0"
    elif overall.ci_high < 0:
        reason = f"worse than champion beyond noise: {overall.describe()} lies below 0"
    else:
        reason = f"better than champion, but not by the required margin: {overall.describe()}"
    return GateCheck("beats_champion", False, described), reason + required


def _slices_check(
    slices: Sequence[tuple[str, str, PairedComparison]], tolerance: float
) -> tuple[GateCheck, str]:
    worse = [(c, v, cmp) for c, v, cmp in slices if cmp.ci_high < -tolerance]
    if not worse:
        detail = (
            f"{len(slices)} slices compared; none worse than the champion by more than "
            f"{tolerance:g} beyond noise"
            if slices
            else "no slice had enough test rows to compare"
        )
        return GateCheck("slices", True, detail), ""
    listed = "; ".join(f"{c}={v} ({cmp.describe()})" for c, v, cmp in worse)
    detail = f"{len(worse)} of {len(slices)} slices clearly worse: {listed}"
    reason = (
        f"clearly worse than champion on {len(worse)} slice(s), by more than {tolerance:g} "
        f"in {worse[0][2].metric}: {listed}"
    )
    return GateCheck("slices", False, detail), reason
