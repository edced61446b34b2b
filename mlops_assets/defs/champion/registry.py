"""registered_model_version: register the candidate and decide, through a named gate, whether it
takes the `champion` alias. Also the ops that move `champion` by hand: rollback and a manual
promotion. The decision and the moves themselves live in domain.promotion."""

from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.contracts import (
    CHAMPION_ALIAS,
    DAGSTER_RUN_ID_TAG,
    DATA_HASH_TAG,
    ESTIMATOR_TAG,
    PROMOTION_CHECK,
)
from mlops_assets.defs.common import (
    MLFLOW_RETRY_POLICY,
    OWNER,
    TRAINING_GROUP,
    failure,
    retried_on_mlflow_outage,
)
from mlops_assets.defs.model_resources import ModelResources, resource_keys
from mlops_assets.domain.health import promotion_health
from mlops_assets.domain.promotion import (
    Candidate,
    ChampionMove,
    EvaluationSummary,
    GateConfig,
    GateDecision,
    PromotionError,
    compare_with_current_champion,
    promote_given_version,
    register_and_promote,
    roll_back,
)
from mlops_assets.domain.schemas import DatasetSchema
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
from mlops_assets.resources.mlflow_registry import MlflowRegistry, ModelArtifactError
from mlops_assets.resources.project import LockTimeout, ProjectStorage
from mlops_assets.services.servability import raw_samples, serving_checks


class PromotionConfig(GateConfig, dg.Config):
    """registered_model_version's run config: the gate's settings (GateConfig)."""


@dataclass(frozen=True)
class RegisteredVersion:
    model_name: str
    version: str
    promoted: bool
    champion_version: str | None
    """The version holding `champion` after this step."""
    reasons: tuple[str, ...]


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
    ref = summary.model
    name = mlflow_registry.model_name
    contract, servable = serving_checks(
        mlflow_registry,
        ref.model_uri,
        DatasetSchema.from_json(ref.schema_json),
        raw_samples(data_source.location, scoring_source.location),
    )
    candidate = Candidate(
        run_id=ref.run_id,
        model_uri=ref.model_uri,
        metrics=summary.metrics,
        leaky_features=ref.leaky_features,
        champion=summary.champion,
        serving_checks=(contract, servable),
        tags={
            DATA_HASH_TAG: ref.data_hash,
            DAGSTER_RUN_ID_TAG: context.run.run_id,
            ESTIMATOR_TAG: ref.estimator,
        },
    )
    try:
        outcome = register_and_promote(
            mlflow_registry,
            storage.lock,
            candidate,
            config.for_task(ref.task),
            judge_again=lambda: compare_with_current_champion(
                ref, summary.comparison_settings, mlflow_registry
            ),
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
    )
    context.log.info(
        f"{name} v{outcome.version}: "
        f"{'promoted to champion' if outcome.promoted else 'kept as challenger'}; "
        + "; ".join(outcome.reasons)
    )
    yield dg.Output(
        result,
        metadata={
            "model_version": dg.MetadataValue.int(int(outcome.version)),
            "promoted": dg.MetadataValue.bool(outcome.promoted),
            "champion_version": dg.MetadataValue.text(outcome.champion_version or "none"),
            "decision": dg.MetadataValue.md(_decision_markdown(outcome.decision, outcome.reasons)),
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


def registered_model_version_asset(names: ModelNames) -> dg.AssetsDefinition:
    """The model's registered_model_version: its candidate registered under its MLflow
    registered model, promoted through its gate."""
    return dg.asset(
        key=names.registered_model_version,
        group_name=names.group(TRAINING_GROUP),
        required_resource_keys=resource_keys(
            names, "mlflow_registry", "storage", "data_source", "scoring_source"
        ),
        ins={"evaluation_report": dg.AssetIn(key=names.evaluation_report)},
        kinds={"mlflow"},
        owners=[OWNER],
        retry_policy=MLFLOW_RETRY_POLICY,
        check_specs=[
            dg.AssetCheckSpec(
                PROMOTION_CHECK,
                asset=names.registered_model_version,
                description=(
                    "Yellow (WARN) when the gate kept the candidate out of `champion`, with the "
                    "gate's reasons; the candidate stays registered as the `challenger`."
                ),
            )
        ],
        description=(
            "The candidate registered in the MLflow model registry, with its metrics, gate tags "
            "and the SHA-256 of its artefact. A named gate (absolute thresholds, schema "
            "compatibility, a noise-aware non-regression test against the champion overall and "
            "per slice, and two serving checks: its signature accepts every input the champion "
            "accepts, and it scores the sources' raw rows through mlflow.pyfunc and the serving "
            "app) decides whether it takes the `champion` alias, moved only by compare-and-set "
            "under a lock; otherwise it is the `challenger`. Decision and reasons are MLflow tags."
        ),
    )(registered_model_version)


def _decision_markdown(decision: GateDecision, reasons: tuple[str, ...]) -> str:
    lines = ["| check | passed | detail |", "| --- | --- | --- |"]
    lines += [
        f"| {c.name} | {'yes' if c.passed else 'no'} | {c.detail.replace('|', '/')} |"
        for c in decision.checks
    ]
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {reason}" for reason in reasons)


class RollbackConfig(dg.Config):
    reason: str
    """Why the champion is rolled back; recorded on both model versions."""
    requested_by: str = ""
    """Who asked; empty: the OS user running the job."""


@dg.op(
    description="Move the `champion` alias back to the previous champion, with an audit trail.",
    tags={"kind": "mlflow"},
)
def rollback_champion(
    context: dg.OpExecutionContext,
    config: RollbackConfig,
    mlflow_registry: MlflowRegistry,
    storage: ProjectStorage,
) -> dg.Output[str]:
    try:
        move = roll_back(mlflow_registry, storage.lock, config.reason, config.requested_by)
    except PromotionError as error:
        raise dg.Failure(str(error)) from error
    return _move_output(context, mlflow_registry, move, config.reason)


class PromoteVersionConfig(dg.Config):
    version: str
    """The model version to make champion, e.g. "3"."""
    reason: str
    """Why it is promoted by hand (e.g. "leaky v2 replaced by the honest v3"); recorded."""
    requested_by: str = ""
    """Who asked; empty: the OS user running the job."""


@dg.op(
    description=(
        "Move the `champion` alias to a given version (config: version, reason), after "
        "verifying its artefact, with an audit trail; for what the gate cannot judge (a new "
        "schema, a deliberate override)."
    ),
    tags={"kind": "mlflow"},
)
def promote_version(
    context: dg.OpExecutionContext,
    config: PromoteVersionConfig,
    mlflow_registry: MlflowRegistry,
    storage: ProjectStorage,
    data_source: TrainingDataSource,
    scoring_source: ScoringDataSource,
) -> dg.Output[str]:
    name = mlflow_registry.model_name
    _check_servable(context, mlflow_registry, config.version.strip(), data_source, scoring_source)
    try:
        move = promote_given_version(
            mlflow_registry, storage.lock, config.version, config.reason, config.requested_by
        )
    except PromotionError as error:
        raise failure(str(error)) from error
    except ModelArtifactError as error:
        raise failure(f"{name} v{config.version.strip()} cannot be promoted: {error}") from error
    if not move.moved:
        context.log.info(f"{name} v{move.to_version} already holds `champion`; nothing to do.")
        return dg.Output(
            move.to_version, metadata={"from_version": dg.MetadataValue.text(move.to_version)}
        )
    return _move_output(context, mlflow_registry, move, config.reason)


def _check_servable(
    context: dg.OpExecutionContext,
    registry: MlflowRegistry,
    version: str,
    data_source: TrainingDataSource,
    scoring_source: ScoringDataSource,
) -> None:
    """A version taken by hand must still score the sources' raw rows; a change of the input
    contract is the person's call (a new schema is what manual promotion is for), logged."""
    held = {v.version: v for v in registry.versions()}.get(version)
    if held is None or CHAMPION_ALIAS in held.aliases:
        return  # unknown: promote_given_version refuses it, naming the versions there are
    contract, servable = serving_checks(
        registry,
        f"models:/{registry.model_name}/{version}",
        registry.training_schema(held.run_id),
        raw_samples(data_source.location, scoring_source.location),
    )
    if not servable.passed:
        raise failure(f"{registry.model_name} v{version} cannot be promoted: {servable.detail}")
    if not contract.passed:
        context.log.warning(
            f"{registry.model_name} v{version} changes the input contract: {contract.detail}. "
            "Clients must send the new types once it is champion."
        )


def _move_output(
    context: dg.OpExecutionContext, registry: MlflowRegistry, move: ChampionMove, reason: str
) -> dg.Output[str]:
    context.log.info(
        f"{registry.model_name}: champion v{move.from_version} -> v{move.to_version} ({move.audit})"
    )
    return dg.Output(
        move.to_version,
        metadata={
            "from_version": dg.MetadataValue.text(move.from_version),
            "to_version": dg.MetadataValue.text(move.to_version),
            "requested_by": dg.MetadataValue.text(move.requested_by),
            "reason": dg.MetadataValue.text(reason),
            "mlflow_model_version": dg.MetadataValue.url(registry.version_url(move.to_version)),
        },
    )
