"""registered_model_version: register the candidate and decide, through a named gate, whether it
takes the `champion` alias. Also the rollback op that moves `champion` back."""

import getpass
import os
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from mlops_assets.assets.common import OWNER, TRAINING_GROUP
from mlops_assets.assets.evaluation import EvaluationSummary
from mlops_assets.domain.registry import (
    GateConfig,
    GateDecision,
    VersionRecord,
    decide_promotion,
    previous_champion,
)
from mlops_assets.resources.mlflow_registry import (
    CHALLENGER,
    CHAMPION,
    MlflowRegistry,
    RegistryVersion,
)

PROMOTED_AT_TAG = "champion.promoted_at"
ARCHIVED_AT_TAG = "champion.archived_at"
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
    description=(
        "The candidate registered in the MLflow model registry. A named gate (absolute "
        "thresholds, schema compatibility, a noise-aware non-regression test against the "
        "champion overall and per slice) decides whether it takes the `champion` alias; "
        "otherwise it is the `challenger`. Decision and reasons are MLflow tags."
    ),
)
def registered_model_version(
    context: dg.AssetExecutionContext,
    config: PromotionConfig,
    evaluation_report: EvaluationSummary,
    mlflow_registry: MlflowRegistry,
) -> dg.Output[RegisteredVersion]:
    import mlflow

    summary = evaluation_report
    ref = summary.model
    champion = summary.champion
    gate = GateConfig(
        min_metrics=config.min_metrics or DEFAULT_MIN_METRICS[ref.task],
        max_metrics=config.max_metrics,
        min_improvement=config.min_improvement,
        slice_tolerance=config.slice_tolerance,
    )
    decision = decide_promotion(
        candidate_metrics=summary.metrics,
        gate=gate,
        schema_compatible=None if champion is None else champion.schema_compatible,
        schema_detail="" if champion is None else champion.schema_detail,
        overall=None if champion is None else champion.overall,
        slices=() if champion is None else champion.slices,
    )
    evaluated_against = None if champion is None else champion.version

    mlflow_registry.ensure_registered_model()
    client = mlflow_registry.client()
    tags = {
        "data_hash": ref.data_hash,
        "dagster.run_id": context.run_id,
        "estimator": ref.estimator,
        "evaluated_against_champion": evaluated_against or "none",
        **{f"metric.test_{k}": f"{v:.6g}" for k, v in summary.metrics.items()},
        **decision.as_tags(),
    }
    # Registered with its metrics and gate tags in one call: there is never a version without them.
    version = RegistryVersion.of(
        mlflow.register_model(ref.model_uri, mlflow_registry.model_name, tags=tags)
    )
    for key, value in decision.as_tags().items():
        client.set_tag(ref.run_id, key, value)

    promoted = decision.promote
    reasons = list(decision.reasons)
    if promoted:
        # Compare-and-set: the gate judged against `evaluated_against`; if another run moved the
        # alias meanwhile, that judgement is stale and this candidate must not take over.
        current = mlflow_registry.version_by_alias(CHAMPION)
        current_version = None if current is None else current.version
        if current_version != evaluated_against:
            promoted = False
            reasons.append(
                f"champion moved from {evaluated_against} to {current_version} during this run; "
                "not promoted (re-run to compare against the new champion)"
            )
            client.set_model_version_tag(
                mlflow_registry.model_name, version.version, "gate.decision", "rejected"
            )
        else:
            now = datetime.now(UTC).isoformat()
            if current is not None:
                client.set_model_version_tag(
                    mlflow_registry.model_name, current.version, ARCHIVED_AT_TAG, now
                )
            client.set_registered_model_alias(mlflow_registry.model_name, CHAMPION, version.version)
            client.set_model_version_tag(
                mlflow_registry.model_name, version.version, PROMOTED_AT_TAG, now
            )
    if not promoted:
        client.set_registered_model_alias(mlflow_registry.model_name, CHALLENGER, version.version)

    champion_now = mlflow_registry.version_by_alias(CHAMPION)
    result = RegisteredVersion(
        model_name=mlflow_registry.model_name,
        version=version.version,
        promoted=promoted,
        champion_version=None if champion_now is None else champion_now.version,
        reasons=tuple(reasons),
    )
    context.log.info(
        f"{mlflow_registry.model_name} v{version.version}: "
        f"{'promoted to champion' if promoted else 'kept as challenger'}; " + "; ".join(reasons)
    )
    return dg.Output(
        result,
        metadata={
            "model_version": dg.MetadataValue.int(int(version.version)),
            "promoted": dg.MetadataValue.bool(promoted),
            "champion_version": dg.MetadataValue.text(result.champion_version or "none"),
            "decision": dg.MetadataValue.md(_decision_markdown(decision, reasons)),
            "mlflow_model_version": dg.MetadataValue.url(
                mlflow_registry.version_url(version.version)
            ),
            "data_hash": dg.MetadataValue.text(ref.data_hash),
        },
    )


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
