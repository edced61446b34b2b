"""The aliases moved by hand, one pair of jobs per model: `rollback_champion_job` moves
`champion` back to the previous champion; `promote_version_job` gives a named version a role
(`champion`, `challenger`, or `none`: the challenger retired), with a reason. A declared model's
jobs are `<model>__rollback_champion_job` and `<model>__promote_version_job`, their ops
`<model>__rollback_champion` and `<model>__promote_version`, reading the model's own resource
keys. The moves themselves (lock, compare-and-set, audit) are domain.promotion's."""

import functools
from typing import Literal

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.contracts import CHAMPION_ALIAS, CHAMPION_GATE_RUN_TAG
from mlops_assets.defs.common import failure
from mlops_assets.defs.model_resources import ModelResources, resource_keys
from mlops_assets.domain.promotion import (
    AliasMove,
    ChampionMove,
    PromotionError,
    promote_given_version,
    retire_challenger,
    roll_back,
    set_challenger,
)
from mlops_assets.resources.mlflow_registry import MlflowRegistry, ModelArtifactError
from mlops_assets.services.servability import raw_samples, serving_checks


class RollbackConfig(dg.Config):
    reason: str
    """Why the champion is rolled back; recorded on both model versions."""
    requested_by: str = ""
    """Who asked; empty: the OS user running the job."""


class PromoteVersionConfig(dg.Config):
    version: str
    """The model version to move, e.g. "3"."""
    reason: str
    """Why (e.g. "leaky v2 replaced by the honest v3"); recorded in the audit trail."""
    role: Literal["champion", "challenger", "none"] = "champion"
    """`champion`: it takes `champion`; `challenger`: it takes `challenger`, replacing the
    one before; `none`: it gives up `challenger` (retired; it must hold it)."""
    requested_by: str = ""
    """Who asked; empty: the OS user running the job."""


def _rollback_op(names: ModelNames) -> dg.OpDefinition:
    @dg.op(
        name=names.job("rollback_champion"),
        description="Move the `champion` alias back to the previous champion, with an audit trail.",
        required_resource_keys=resource_keys(names, "mlflow_registry", "storage"),
        tags={"kind": "mlflow"},
    )
    def rollback_champion(context: dg.OpExecutionContext, config: RollbackConfig) -> dg.Output[str]:
        resources = ModelResources(context, names)
        registry = resources.mlflow_registry
        try:
            move = roll_back(
                registry,
                resources.storage.lock,
                config.reason,
                config.requested_by,
                names.manual_promotion,
            )
        except PromotionError as error:
            raise dg.Failure(str(error)) from error
        return _move_output(context, registry, move, config.reason)

    return rollback_champion


def _promote_op(names: ModelNames, shadow_former: bool) -> dg.OpDefinition:
    @dg.op(
        name=names.manual_promotion.op,
        description=(
            "Give a version a role by hand (config: version, role champion|challenger|none, "
            "reason), after verifying its artefact and that it scores the sources' raw rows, "
            "with an audit trail; for what the gate cannot judge (a new schema, a deliberate "
            "override) or what live evidence decided."
        ),
        required_resource_keys=resource_keys(
            names, "mlflow_registry", "storage", "data_source", "scoring_source"
        ),
        tags={"kind": "mlflow"},
    )
    def promote_version(
        context: dg.OpExecutionContext, config: PromoteVersionConfig
    ) -> dg.Output[str]:
        resources = ModelResources(context, names)
        registry, lock = resources.mlflow_registry, resources.storage.lock
        version, name = config.version.strip(), registry.model_name
        manual = names.manual_promotion
        if config.role != "none":
            _check_servable(context, resources, version)
        try:
            if config.role == "champion":
                move = promote_given_version(
                    registry,
                    lock,
                    version,
                    config.reason,
                    config.requested_by,
                    manual,
                    shadow_former,
                )
                if move.moved:
                    return _move_output(context, registry, move, config.reason)
                context.log.info(f"{name} v{version} already holds `champion`; nothing to do.")
                return dg.Output(version, metadata={"from_version": dg.MetadataValue.text(version)})
            if config.role == "challenger":
                moved = set_challenger(
                    registry, lock, version, config.reason, config.requested_by, manual
                )
                if moved is None:
                    context.log.info(f"{name} v{version} already holds `challenger`.")
                    return dg.Output(
                        version, metadata={"role": dg.MetadataValue.text("challenger")}
                    )
            else:
                moved = retire_challenger(
                    registry, lock, version, config.reason, config.requested_by, manual
                )
        except PromotionError as error:
            raise failure(str(error)) from error
        except ModelArtifactError as error:
            raise failure(f"{name} v{version} cannot take a role: {error}") from error
        return _role_output(context, registry, moved)

    return promote_version


@functools.cache
def rollback_job(names: ModelNames) -> dg.JobDefinition:
    @dg.job(
        name=names.job("rollback_champion_job"),
        description="Move the `champion` alias back to the previous champion (config: reason).",
        tags={"mlops/purpose": "rollback", **CHAMPION_GATE_RUN_TAG},
    )
    def rollback_champion_job() -> None:
        _rollback_op(names)()

    return rollback_champion_job


@functools.cache
def promote_job(names: ModelNames, shadow_former: bool = True) -> dg.JobDefinition:
    """`shadow_former`: a version made champion keeps the one it replaced as the challenger
    (the settings' `shadow_former_champion`)."""

    @dg.job(
        name=names.manual_promotion.job,
        description=(
            "Give a version a role by hand (config: version, reason, role champion (default) | "
            "challenger | none, requested_by): make it champion (e.g. an honest model the gate "
            "could not compare with a leaky champion's schema), make it the challenger, or "
            "retire the challenger."
        ),
        tags={"mlops/purpose": "promotion", **CHAMPION_GATE_RUN_TAG},
    )
    def promote_version_job() -> None:
        _promote_op(names, shadow_former)()

    return promote_version_job


def _check_servable(
    context: dg.OpExecutionContext, resources: ModelResources, version: str
) -> None:
    """A version given a live role by hand must still score the sources' raw rows; a change
    of the input contract is the person's call (a new schema is what manual promotion is
    for), logged."""
    registry = resources.mlflow_registry
    held = {v.version: v for v in registry.versions()}.get(version)
    if held is None or CHAMPION_ALIAS in held.aliases:
        return  # unknown or champion: the move refuses it, or there is nothing to do
    contract, servable = serving_checks(
        registry,
        f"models:/{registry.model_name}/{version}",
        registry.training_schema(held.run_id),
        raw_samples(resources.data_source.location, resources.scoring_source.location),
    )
    if not servable.passed:
        raise failure(f"{registry.model_name} v{version} cannot take a role: {servable.detail}")
    if not contract.passed:
        context.log.warning(
            f"{registry.model_name} v{version} changes the input contract: {contract.detail}. "
            "Clients must send the new types once it answers them."
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


def _role_output(
    context: dg.OpExecutionContext, registry: MlflowRegistry, move: AliasMove
) -> dg.Output[str]:
    context.log.info(f"{registry.model_name}: {move.sentence()}")
    return dg.Output(
        move.version,
        metadata={
            "action": dg.MetadataValue.text(move.action.value),
            "requested_by": dg.MetadataValue.text(move.by),
            "reason": dg.MetadataValue.text(move.reason),
            "mlflow_model_version": dg.MetadataValue.url(registry.version_url(move.version)),
        },
    )
