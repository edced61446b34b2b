"""registered_model_version: register the candidate and decide, through a named gate, whether it
takes the `champion` alias. Also the rollback op that moves `champion` back."""

import getpass
import os
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from mlops_assets.assets.common import (
    MLFLOW_RETRY_POLICY,
    OWNER,
    TRAINING_GROUP,
    failure,
    retried_on_mlflow_outage,
)
from mlops_assets.assets.evaluation import (
    ChampionComparison,
    EvaluationSummary,
    compare_with_current_champion,
)
from mlops_assets.domain.registry import (
    VERSION_PLACEHOLDER,
    GateConfig,
    GateDecision,
    VersionRecord,
    decide_promotion,
    previous_champion,
)
from mlops_assets.resources.mlflow_registry import (
    CHALLENGER,
    CHAMPION,
    MODEL_HASH_TAG,
    MlflowRegistry,
    ModelArtifactError,
    checked_model_name,
)
from mlops_assets.resources.project import LockTimeout, ProjectStorage

PROMOTED_AT_TAG = "champion.promoted_at"
ARCHIVED_AT_TAG = "champion.archived_at"
# The version a promotion replaced: with the gate tags, every move of `champion` can be checked
# to have been judged against exactly the version it replaced.
REPLACED_TAG = "champion.replaced"
ROLLED_BACK_AT_TAG = "champion.rolled_back_at"

# Absolute floors used when the run config sets none: better than chance, whatever the data.
DEFAULT_MIN_METRICS = {
    "binary": {"roc_auc": 0.6},
    "multiclass": {"balanced_accuracy": 0.4},
    "regression": {"r2": 0.0},
}


class PromotionConfig(dg.Config):
    min_metrics: dict[str, float] = Field(default_factory=dict)
    """Test metrics the candidate must reach (>=); empty: a better-than-chance floor by task."""
    max_metrics: dict[str, float] = Field(default_factory=dict)
    """Test metrics the candidate must not exceed (<=), e.g. {"log_loss": 0.6}."""
    min_improvement: float = 0.0
    """Lower bound the improvement's confidence interval must clear to replace the champion."""
    slice_tolerance: float = 0.02
    """A slice whose whole interval is below -slice_tolerance blocks promotion."""
    allow_leaky_features: bool = False
    """Let a model whose features the leakage guard flagged (trained_model's check
    no_target_leakage) become champion; off by default."""


@dataclass(frozen=True)
class RegisteredVersion:
    model_name: str
    version: str
    promoted: bool
    champion_version: str | None
    """The version holding `champion` after this step."""
    reasons: tuple[str, ...]


@dg.asset(
    group_name=TRAINING_GROUP,
    kinds={"mlflow"},
    owners=[OWNER],
    code_version="1",
    retry_policy=MLFLOW_RETRY_POLICY,
    description=(
        "The candidate registered in the MLflow model registry, with its metrics, gate tags and "
        "the SHA-256 of its artefact. A named gate (absolute thresholds, schema compatibility, "
        "a noise-aware non-regression test against the champion overall and per slice) decides "
        "whether it takes the `champion` alias, moved only by compare-and-set under a lock; "
        "otherwise it is the `challenger`. Decision and reasons are MLflow tags."
    ),
)
@retried_on_mlflow_outage
def registered_model_version(
    context: dg.AssetExecutionContext,
    config: PromotionConfig,
    evaluation_report: EvaluationSummary,
    mlflow_registry: MlflowRegistry,
    storage: ProjectStorage,
) -> dg.Output[RegisteredVersion]:
    summary = evaluation_report
    ref = summary.model
    gate = GateConfig(
        min_metrics=config.min_metrics or DEFAULT_MIN_METRICS[ref.task],
        max_metrics=config.max_metrics,
        min_improvement=config.min_improvement,
        slice_tolerance=config.slice_tolerance,
        allow_leaky_features=config.allow_leaky_features,
    )
    champion = summary.champion
    decision = _decide(summary.metrics, gate, champion, ref.leaky_features)
    evaluated_against = None if champion is None else champion.version

    mlflow_registry.ensure_registered_model()
    client = mlflow_registry.client()
    name = mlflow_registry.model_name
    try:
        # Hashed from the artefact store itself: a version whose artefact is missing is never
        # registered, and scoring verifies these bytes before it uses the model.
        model_hash = mlflow_registry.model_artifact_sha256(ref.model_uri)
    except ModelArtifactError as error:
        raise failure(str(error)) from error
    tags = {
        "data_hash": ref.data_hash,
        "dagster.run_id": context.run_id,
        "estimator": ref.estimator,
        MODEL_HASH_TAG: model_hash,
        **{f"metric.test_{k}": f"{v:.6g}" for k, v in summary.metrics.items()},
        **_gate_tags(decision, evaluated_against),
    }
    # Registered with its hash, metrics and gate tags in one call (never a version without
    # them), and at most once per MLflow run however often this step is retried.
    version = mlflow_registry.register_once(ref.model_uri, ref.run_id, tags)

    reasons = list(decision.reasons)
    # Compare-and-set: read the champion, decide, move the alias, with no other run of this
    # project between the read and the move (a file lock in MLOPS_HOME; the run queue's tag
    # limit already keeps retraining runs apart, this also covers manual and local runs).
    try:
        with storage.lock(f"champion-{checked_model_name(name)}"):
            current = mlflow_registry.version_by_alias(CHAMPION)
            current_version = None if current is None else current.version
            if current_version == version.version:
                # An earlier attempt of this step moved the alias, then failed: finish its work.
                promoted = True
                if PROMOTED_AT_TAG not in version.tags:
                    now = datetime.now(UTC).isoformat()
                    client.set_model_version_tag(name, version.version, PROMOTED_AT_TAG, now)
            else:
                if current_version != evaluated_against:
                    # The champion moved since evaluation: that judgement is stale. Judge again
                    # against the champion now, on the same test rows, before deciding.
                    try:
                        champion = compare_with_current_champion(summary, mlflow_registry)
                    except ModelArtifactError as error:
                        raise failure(str(error)) from error
                    decision = _decide(summary.metrics, gate, champion, ref.leaky_features)
                    reasons = [
                        f"champion moved from {evaluated_against or 'none'} to "
                        f"{current_version or 'none'} during this run; compared again with "
                        f"{current_version or 'none'}",
                        *decision.reasons,
                    ]
                    for key, value in _gate_tags(decision, current_version).items():
                        client.set_model_version_tag(name, version.version, key, value)
                promoted = decision.promote
                if promoted:
                    now = datetime.now(UTC).isoformat()
                    if current is not None:
                        client.set_model_version_tag(name, current.version, ARCHIVED_AT_TAG, now)
                    client.set_model_version_tag(
                        name, version.version, REPLACED_TAG, current_version or "none"
                    )
                    client.set_registered_model_alias(name, CHAMPION, version.version)
                    client.set_model_version_tag(name, version.version, PROMOTED_AT_TAG, now)
                else:
                    client.set_registered_model_alias(name, CHALLENGER, version.version)
    except LockTimeout as error:
        raise dg.Failure(
            f"{error}: another run is deciding a promotion of {name}; retried.",
            allow_retries=True,
        ) from error
    # Reasons were written before the version had a number; name it in what people read.
    for key, value in decision.as_tags().items():
        client.set_tag(ref.run_id, key, value.replace(VERSION_PLACEHOLDER, version.version))
    reasons = [reason.replace(VERSION_PLACEHOLDER, version.version) for reason in reasons]
    champion_now = mlflow_registry.version_by_alias(CHAMPION)
    result = RegisteredVersion(
        model_name=name,
        version=version.version,
        promoted=promoted,
        champion_version=None if champion_now is None else champion_now.version,
        reasons=tuple(reasons),
    )
    context.log.info(
        f"{name} v{version.version}: "
        f"{'promoted to champion' if promoted else 'kept as challenger'}; " + "; ".join(reasons)
    )
    return dg.Output(
        result,
        metadata={
            "model_version": dg.MetadataValue.int(int(version.version)),
            "promoted": dg.MetadataValue.bool(promoted),
            "champion_version": dg.MetadataValue.text(result.champion_version or "none"),
            "decision": dg.MetadataValue.md(_decision_markdown(decision, reasons)),
            "model_sha256": dg.MetadataValue.text(model_hash),
            "mlflow_model_version": dg.MetadataValue.url(
                mlflow_registry.version_url(version.version)
            ),
            "data_hash": dg.MetadataValue.text(ref.data_hash),
        },
    )


def _decide(
    metrics: dict[str, float],
    gate: GateConfig,
    champion: ChampionComparison | None,
    leaky_features: tuple[str, ...],
) -> GateDecision:
    return decide_promotion(
        candidate_metrics=metrics,
        gate=gate,
        schema_compatible=None if champion is None else champion.schema_compatible,
        schema_detail="" if champion is None else champion.schema_detail,
        overall=None if champion is None else champion.overall,
        slices=() if champion is None else champion.slices,
        leaky_features=leaky_features,
    )


def _gate_tags(decision: GateDecision, judged_against: str | None) -> dict[str, str]:
    return {"evaluated_against_champion": judged_against or "none", **decision.as_tags()}


def _decision_markdown(decision: GateDecision, reasons: list[str]) -> str:
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
    name = mlflow_registry.model_name
    # The same lock as the gate: a rollback never interleaves with a promotion.
    with storage.lock(f"champion-{checked_model_name(name)}"):
        return _rollback(context, config, mlflow_registry)


def _rollback(
    context: dg.OpExecutionContext, config: RollbackConfig, mlflow_registry: MlflowRegistry
) -> dg.Output[str]:
    client = mlflow_registry.client()
    name = mlflow_registry.model_name
    versions = [
        VersionRecord(
            version=v.version,
            aliases=v.aliases,
            tags=v.tags,
            created_at_ms=v.creation_timestamp,
        )
        for v in mlflow_registry.versions()
    ]
    current = next((v for v in versions if CHAMPION in v.aliases), None)
    if current is None:
        raise dg.Failure(f"{name} has no `champion` alias; there is nothing to roll back.")
    # A version rolled back once is not a rollback target again, so repeated rollbacks walk
    # back through history instead of swapping two versions.
    candidates = [v for v in versions if ROLLED_BACK_AT_TAG not in v.tags or v is current]
    target = previous_champion(candidates)
    if target is None:
        raise dg.Failure(
            f"{name} v{current.version} is the only version that was ever champion; "
            "there is no earlier champion to roll back to."
        )
    who = config.requested_by or os.environ.get("USER") or getpass.getuser()
    now = datetime.now(UTC).isoformat()
    audit = f"rolled back by {who} at {now}: {config.reason}"
    client.set_registered_model_alias(name, CHAMPION, target.version)
    client.set_model_version_tag(name, current.version, ROLLED_BACK_AT_TAG, now)
    client.set_model_version_tag(name, current.version, "rollback.audit", audit)
    client.set_model_version_tag(name, target.version, "rollback.restored_by", audit)
    context.log.info(f"{name}: champion v{current.version} -> v{target.version} ({audit})")
    return dg.Output(
        target.version,
        metadata={
            "from_version": dg.MetadataValue.text(current.version),
            "to_version": dg.MetadataValue.text(target.version),
            "requested_by": dg.MetadataValue.text(who),
            "reason": dg.MetadataValue.text(config.reason),
        },
    )


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
) -> dg.Output[str]:
    name = mlflow_registry.model_name
    # The same lock as the gate and rollback: a manual promotion never interleaves with them.
    with storage.lock(f"champion-{checked_model_name(name)}"):
        return _promote_version(context, config, mlflow_registry)


def _promote_version(
    context: dg.OpExecutionContext, config: PromoteVersionConfig, mlflow_registry: MlflowRegistry
) -> dg.Output[str]:
    client = mlflow_registry.client()
    name = mlflow_registry.model_name
    versions = {v.version: v for v in mlflow_registry.versions()}
    wanted = config.version.strip()
    if wanted not in versions:
        known = ", ".join(versions) or "none registered yet"
        raise failure(f"{name} has no version {wanted!r} (versions: {known}); nothing was changed.")
    current = next((v for v in versions.values() if CHAMPION in v.aliases), None)
    if current is not None and current.version == wanted:
        context.log.info(f"{name} v{wanted} already holds `champion`; nothing to do.")
        return dg.Output(wanted, metadata={"from_version": dg.MetadataValue.text(wanted)})
    try:
        # What scoring will load must be what was registered: the hash is checked here, not
        # first on tomorrow's batch.
        mlflow_registry.load_model(wanted)
    except ModelArtifactError as error:
        raise failure(f"{name} v{wanted} cannot be promoted: {error}") from error
    who = config.requested_by or os.environ.get("USER") or getpass.getuser()
    now = datetime.now(UTC).isoformat()
    previous = "none" if current is None else current.version
    audit = f"promoted manually by {who} at {now}, replacing v{previous}: {config.reason}"
    if current is not None:
        client.set_model_version_tag(name, current.version, ARCHIVED_AT_TAG, now)
    client.set_model_version_tag(name, wanted, REPLACED_TAG, previous)
    client.set_model_version_tag(name, wanted, "promotion.audit", audit)
    client.set_registered_model_alias(name, CHAMPION, wanted)
    client.set_model_version_tag(name, wanted, PROMOTED_AT_TAG, now)
    if CHALLENGER in versions[wanted].aliases:
        client.delete_registered_model_alias(name, CHALLENGER)
    context.log.info(f"{name}: champion v{previous} -> v{wanted} ({audit})")
    return dg.Output(
        wanted,
        metadata={
            "from_version": dg.MetadataValue.text(previous),
            "to_version": dg.MetadataValue.text(wanted),
            "requested_by": dg.MetadataValue.text(who),
            "reason": dg.MetadataValue.text(config.reason),
            "mlflow_model_version": dg.MetadataValue.url(mlflow_registry.version_url(wanted)),
        },
    )
