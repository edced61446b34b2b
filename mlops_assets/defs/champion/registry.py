"""registered_model_version: register the candidate and decide, through a named gate, which
alias it takes: `champion`, `challenger` or none (jobs.py moves them by hand). The decision and
the moves themselves live in domain.promotion."""

from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from mlops_assets.asset_keys import ModelNames
from mlops_assets.contracts import (
    DAGSTER_RUN_ID_TAG,
    DATA_HASH_TAG,
    ESTIMATOR_TAG,
    EVALUATED_FIT_TAG,
    PROMOTION_CHECK,
    REFIT_ROWS_TAG,
)
from mlops_assets.defs.common import (
    OWNER,
    TRAINING_GROUP,
    failure,
    retried_on_mlflow_outage,
)
from mlops_assets.defs.model_resources import ModelResources, resource_keys
from mlops_assets.domain.health import promotion_health
from mlops_assets.domain.promotion import (
    OUTCOME_HEADLINES,
    Candidate,
    EvaluationSummary,
    GateConfig,
    GateDecision,
    PromotionOutcome,
    compare_with_current_champion,
    register_and_promote,
)
from mlops_assets.domain.schemas import DatasetSchema
from mlops_assets.resources.mlflow_registry import ModelArtifactError
from mlops_assets.resources.project import LockTimeout
from mlops_assets.services.servability import raw_samples, serving_checks

SHADOW_FORMER_KEY = "shadow_former_champion"
"""registered_model_version's definition metadata: whether a promotion keeps the champion it
replaced as the challenger (Settings.shadow_former_champion)."""


def _described(field: str) -> str:
    """GateConfig's description of `field`, with what leaving it unset means."""
    return f"{GateConfig.model_fields[field].description} Unset: the model's gate."


class PromotionGate(GateConfig, dg.ConfigurableResource):
    """The model's promotion gate (`promotion_gate`, `car_loan__promotion_gate`): GateConfig
    with Dagster's resource base, so every run of the model's registered_model_version
    (training_job, the retraining_job its sensor starts, a materialisation from the graph)
    judges by it and the UI shows it. Built from `Settings.gate`: a declared model's YAML
    `gate:`, GateConfig's defaults for the default model."""

    @classmethod
    def of(cls, gate: GateConfig) -> "PromotionGate":
        return cls(**gate.model_dump())


class PromotionConfig(dg.Config):
    """registered_model_version's run config: this run's changes to the model's gate (the
    resource `promotion_gate`); a field left unset keeps the gate's value. GateConfig's fields,
    each optional, with its descriptions (a test keeps the two sets of names equal)."""

    min_metrics: dict[str, float] | None = Field(
        default=None, description=_described("min_metrics")
    )
    max_metrics: dict[str, float] | None = Field(
        default=None, description=_described("max_metrics")
    )
    min_improvement: float | None = Field(default=None, description=_described("min_improvement"))
    slice_tolerance: float | None = Field(default=None, description=_described("slice_tolerance"))
    allow_leaky_features: bool | None = Field(
        default=None, description=_described("allow_leaky_features")
    )

    def applied_to(self, gate: GateConfig) -> GateConfig:
        """The model's gate with this run's changes."""
        changes = self.model_dump(exclude_none=True)
        return GateConfig(**{**gate.model_dump(), **changes})


@dataclass(frozen=True)
class RegisteredVersion:
    model_name: str
    version: str
    promoted: bool
    champion_version: str | None
    """The version holding `champion` after this step."""
    reasons: tuple[str, ...]
    outcome: str = "promoted"
    """The gate's outcome (GateOutcome): promoted, challenger or rejected."""
    challenger_version: str | None = None
    """The version holding `challenger` after this step."""


@retried_on_mlflow_outage
def registered_model_version(
    context: dg.AssetExecutionContext,
    config: PromotionConfig,
    evaluation_report: EvaluationSummary,
) -> Iterator[dg.Output[RegisteredVersion] | dg.AssetCheckResult]:
    resources = ModelResources(context)
    mlflow_registry, storage = resources.mlflow_registry, resources.storage
    data_source, scoring_source = resources.data_source, resources.scoring_source
    summary = evaluation_report
    gate = config.applied_to(resources.promotion_gate).for_task(summary.model.task)
    ref = summary.model
    name = mlflow_registry.model_name
    # The refit on the whole window when there is one (evaluation_report): the gate judges the
    # evaluated fit's held-out figures, the registry and the serving checks get the refit.
    contract, servable = serving_checks(
        mlflow_registry,
        summary.registered_model_uri,
        DatasetSchema.from_json(ref.schema_json),
        raw_samples(data_source.location, scoring_source.location),
    )
    candidate = Candidate(
        run_id=ref.run_id,
        model_uri=summary.registered_model_uri,
        metrics=summary.metrics,
        leaky_features=ref.leaky_features,
        champion=summary.champion,
        serving_checks=(contract, servable),
        tags={
            DATA_HASH_TAG: ref.data_hash,
            DAGSTER_RUN_ID_TAG: context.run.run_id,
            ESTIMATOR_TAG: ref.estimator,
            REFIT_ROWS_TAG: str(summary.refit_rows or "none"),
            EVALUATED_FIT_TAG: ref.model_uri,
        },
    )
    try:
        outcome = register_and_promote(
            mlflow_registry,
            storage.lock,
            candidate,
            gate,
            judge_again=lambda: compare_with_current_champion(
                ref, summary.comparison_settings, mlflow_registry
            ),
            manual=resources.names.manual_promotion,
            shadow_former=_shadows_former_champion(context),
        )
    except ModelArtifactError as error:
        raise failure(str(error)) from error
    except LockTimeout as error:
        raise dg.Failure(
            f"{error}: another run is deciding a promotion of {name}; retried.",
            allow_retries=True,
        ) from error
    result = RegisteredVersion(
        model_name=name,
        version=outcome.version,
        promoted=outcome.promoted,
        champion_version=outcome.champion_version,
        reasons=outcome.reasons,
        outcome=outcome.outcome.value,
        challenger_version=outcome.challenger_version,
    )
    context.log.info(
        f"{name} v{outcome.version}: {OUTCOME_HEADLINES[outcome.outcome].lower()}; "
        + "; ".join(outcome.reasons)
    )
    yield dg.Output(
        result,
        metadata={
            "model_version": dg.MetadataValue.int(int(outcome.version)),
            "promoted": dg.MetadataValue.bool(outcome.promoted),
            "gate_outcome": dg.MetadataValue.text(outcome.outcome.value),
            "champion_version": dg.MetadataValue.text(outcome.champion_version or "none"),
            "challenger_version": dg.MetadataValue.text(outcome.challenger_version or "none"),
            "evidence": dg.MetadataValue.text(outcome.decision.evidence),
            "roles": dg.MetadataValue.md(_roles_markdown(outcome)),
            "decision": dg.MetadataValue.md(_decision_markdown(outcome.decision, outcome.reasons)),
            "gate": dg.MetadataValue.md(_gate_markdown(gate)),
            "model_sha256": dg.MetadataValue.text(outcome.model_hash),
            "mlflow_model_version": dg.MetadataValue.url(
                mlflow_registry.version_url(outcome.version)
            ),
            "data_hash": dg.MetadataValue.text(ref.data_hash),
        },
    )
    health = promotion_health(outcome.version, outcome.outcome.value, outcome.reasons)
    yield dg.AssetCheckResult(
        check_name=PROMOTION_CHECK,
        passed=health.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=health.summary,
        metadata={"champion_version": dg.MetadataValue.text(outcome.champion_version or "none")},
    )


def registered_model_version_asset(
    names: ModelNames, retry: dg.RetryPolicy, shadow_former_champion: bool
) -> dg.AssetsDefinition:
    """The model's registered_model_version: its candidate registered under its MLflow
    registered model, promoted through its gate; with `shadow_former_champion`
    (MLOPS_SHADOW_FORMER_CHAMPION, a declared model's `shadow_former_champion`), a promotion
    keeps the champion it replaced as the challenger. The setting is the asset's definition
    metadata, so the UI shows it beside the description."""
    return dg.asset(
        key=names.registered_model_version,
        group_name=names.group(TRAINING_GROUP),
        required_resource_keys=resource_keys(
            names, "mlflow_registry", "storage", "data_source", "scoring_source", "promotion_gate"
        ),
        ins={"evaluation_report": dg.AssetIn(key=names.evaluation_report)},
        kinds={"mlflow"},
        owners=[OWNER],
        retry_policy=retry,
        metadata={SHADOW_FORMER_KEY: shadow_former_champion},
        check_specs=[
            dg.AssetCheckSpec(
                PROMOTION_CHECK,
                asset=names.registered_model_version,
                description=(
                    "Yellow (WARN) when the gate kept the candidate out of `champion`, with the "
                    "gate's reasons: it is the `challenger` (not provably better, not worse "
                    "beyond noise) or rejected (no alias)."
                ),
            )
        ],
        description=(
            "The candidate registered in the MLflow model registry, with its metrics, gate tags "
            "and the SHA-256 of its artefact. A named gate (absolute thresholds, schema "
            "compatibility, a noise-aware non-regression test against the champion overall and "
            "per slice, and two serving checks: its signature accepts every input the champion "
            "accepts, and it scores the sources' raw rows through mlflow.pyfunc and the serving "
            "app) decides which alias it takes: `champion` when better beyond noise; `challenger` "
            "(replacing the one before) when neither better nor worse beyond noise; none when "
            "worse or a hard check failed. A promotion keeps the champion it replaced as the "
            "`challenger` (unless MLOPS_SHADOW_FORMER_CHAMPION is off), so live evidence can roll "
            "it back. Aliases move only by compare-and-set under a lock, each move in the audit "
            "trail (`audit.<n>` tags, `alias.role`, the description)."
        ),
    )(registered_model_version)


def _shadows_former_champion(context: dg.AssetExecutionContext) -> bool:
    """Whether this model's promotions keep the former champion as the challenger (the
    definition metadata registered_model_version_asset set from the settings)."""
    value = context.assets_def.metadata_by_key[context.asset_key].get(SHADOW_FORMER_KEY, True)
    return bool(getattr(value, "value", value))


def _roles_markdown(outcome: PromotionOutcome) -> str:
    """Who holds which alias after this step, and why this version holds what it holds."""
    rows = [
        ("champion", outcome.champion_version),
        ("challenger", outcome.challenger_version),
    ]
    lines = ["| alias | version |", "| --- | --- |"]
    lines += [f"| {alias} | {'v' + v if v else 'none'} |" for alias, v in rows]
    why = "; ".join(outcome.reasons).replace("|", "/")
    return "\n".join(lines) + (
        f"\n\nv{outcome.version}: **{OUTCOME_HEADLINES[outcome.outcome]}**. {why}\n\n"
        f"Evidence: {outcome.decision.evidence}"
    )


def _decision_markdown(decision: GateDecision, reasons: tuple[str, ...]) -> str:
    lines = ["| check | passed | detail |", "| --- | --- | --- |"]
    lines += [
        f"| {c.name} | {'yes' if c.passed else 'no'} | {c.detail.replace('|', '/')} |"
        for c in decision.checks
    ]
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {reason}" for reason in reasons)


def _gate_markdown(gate: GateConfig) -> str:
    """The gate this run judged by: the model's (its YAML `gate:`, or the defaults) with the
    run's config applied and the task's floors filled in."""
    settings = gate.model_dump()
    lines = ["| setting | value |", "| --- | --- |"]
    for name, value in settings.items():
        if isinstance(value, dict):
            value = ", ".join(f"{metric} {bound:g}" for metric, bound in value.items()) or "none"
        elif isinstance(value, float):
            value = f"{value:g}"
        lines.append(f"| {name} | {value} |")
    return "\n".join(lines)
