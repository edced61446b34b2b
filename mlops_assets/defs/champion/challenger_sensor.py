"""<model>__challenger_sensor: acts on the challenger test's latest verdict.

Each tick reads the verdict of the latest day of the model's challenger_comparison that has one
and, through the promotion service (domain/promotion/verdicts.py: lock, compare-and-set, audit
trail), promotes a challenger proven better or retires one proven worse or undecided at the
horizon; a former champion kept on after a promotion and proven better takes `champion` back
(a rollback). Each move is posted to MLOPS_ALERT_WEBHOOK_URL. While the verdict is to keep
collecting and the model is served in canary mode (MLOPS_SERVE_MODE, a declared model's
`serve.mode`), it steps the canary's share of live traffic (defs/champion/canary_steps.py); in
any other mode no request reads that share, so a step would only fill the audit trail.
Acting in the tick rather than in a run: the move is one compare-and-set on two aliases, and a
verdict already acted on finds the roles moved and does nothing, so a re-tick is harmless.
"""

import functools
from typing import TYPE_CHECKING, Any

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.defs.champion.canary_steps import step_canary
from mlops_assets.defs.monitoring.comparison import latest_verdict
from mlops_assets.defs.retraining.sensors import sensor_status
from mlops_assets.settings import Settings

if TYPE_CHECKING:
    from mlops_assets.domain.alerts import Alert
    from mlops_assets.domain.promotion import AliasMove

CHALLENGER_SENSOR = "challenger_sensor"
LOCK_WAIT_SECONDS = 5.0
"""How long a tick waits for the champion lock before skipping (the next tick retries): a tick
must not hang on a training or a rollback holding it."""


def challenger_sensor(settings: Settings, names: ModelNames) -> dg.SensorDefinition:
    """The model's challenger sensor (`car_loan__challenger_sensor`), running from the start
    when its drift sensor does (MLOPS_DRIFT_SENSOR, a declared model's `drift_sensor`)."""
    registry_key, storage_key = names.resource("mlflow_registry"), "storage"

    @dg.sensor(
        name=names.job(CHALLENGER_SENSOR),
        minimum_interval_seconds=settings.sensor_interval_seconds,
        default_status=sensor_status(settings.drift_sensor_on),
        required_resource_keys={registry_key, storage_key, "alert_webhook"},
        description=(
            "Acts on challenger_comparison's latest verdict: promotes a challenger proven "
            "better on live labelled rows, retires one proven worse or undecided at the "
            "horizon, and rolls a promotion back when the former champion (kept on as the "
            "challenger) is proven better (audit trail on both versions); posts the move to "
            "MLOPS_ALERT_WEBHOOK_URL."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        from mlops_assets.domain.promotion import Action
        from mlops_assets.domain.promotion.verdicts import act_on_verdict, challenger_still_held
        from mlops_assets.resources.alerts import AlertDeliveryError
        from mlops_assets.resources.project import LockTimeout

        found = latest_verdict(context.instance, names.challenger_comparison)
        if found is None:
            return dg.SkipReason("no challenger verdict yet")
        verdict, champion, challenger, since = found
        acted = f"{champion}/{challenger}/{since}/{verdict.day}"
        registry = getattr(context.resources, registry_key)
        if verdict.decision != "keep_collecting" and context.cursor == acted:
            if verdict.decision == "promote":
                finish_rollback(
                    context.instance, registry, names, champion, challenger, verdict.day
                )
            return dg.SkipReason(f"{verdict.day}'s verdict on v{challenger} was acted on already")
        storage = getattr(context.resources, storage_key)
        roles_moved = dg.SkipReason(
            f"{verdict.day}'s verdict ({verdict.decision}) judged v{challenger} against "
            f"v{champion}; the roles have moved since: nothing to do"
        )
        # Read without the lock first: most ticks find the roles moved and need no lock (the
        # move checks again under it).
        if challenger_still_held(registry, champion, challenger, since) is None:
            if verdict.decision == "promote":
                finish_rollback(
                    context.instance, registry, names, champion, challenger, verdict.day
                )
            return roles_moved
        locks = functools.partial(storage.lock, timeout=LOCK_WAIT_SECONDS)
        try:
            if verdict.decision == "keep_collecting":
                canary = f"no canary share to step ({settings.serve_mode} mode)"
                if settings.serve_mode == "canary":
                    canary = step_canary(registry, locks, verdict, champion, challenger, since)
                return dg.SkipReason(
                    f"v{challenger} against v{champion}: keep collecting after {verdict.rows} "
                    f"labelled rows (effect {verdict.effect:+.4f} "
                    f"[{verdict.low:+.4f}, {verdict.high:+.4f}]); {canary}"
                )
            move = act_on_verdict(
                registry, locks, verdict, champion, challenger, since, names.manual_promotion
            )
        except LockTimeout:
            return dg.SkipReason(
                f"the champion lock was held for {LOCK_WAIT_SECONDS:.0f}s; the next tick "
                f"retries {verdict.day}'s verdict ({verdict.decision})"
            )
        if move is None:
            return roles_moved
        context.update_cursor(acted)
        context.log.info(move.sentence())
        if move.action is Action.RESTORED:
            mark_rolled_back_retraining(context.instance, registry, names, champion, verdict.day)
        webhook = context.resources.alert_webhook
        if webhook.enabled:
            alert = move_alert(names, move, champion, registry.version_url(challenger))
            try:
                webhook.post(alert)
            except AlertDeliveryError as error:
                context.log.warning(f"the alert was not delivered: {error}")
        return dg.SkipReason(move.sentence())

    return _sensor


def finish_rollback(
    instance: dg.DagsterInstance,
    registry: Any,
    names: ModelNames,
    demoted: str,
    restored: str,
    day: str,
) -> None:
    """The run tag of a rollback this sensor made (`mark_rolled_back_retraining`), if a tick
    failed between the move and the tag: `restored` still holds `champion` by this verdict's
    rollback of `demoted`, and the run that registered `demoted` lacks the tag. The rollback
    is in MLflow and the tag in Dagster, two writes no lock makes one; without this, the next
    tick finds the roles moved and the drift sensor may retrain on the demoted version's days."""
    from mlops_assets.contracts import CHAMPION_ALIAS, DAGSTER_RUN_ID_TAG, ROLLED_BACK_ON_TAG
    from mlops_assets.domain.promotion import Action
    from mlops_assets.domain.promotion.audit import last_move
    from mlops_assets.domain.promotion.verdicts import CHALLENGER_TEST

    held = registry.version_by_alias(CHAMPION_ALIAS)
    if held is None or held.version != restored:
        return
    gone = registry.version(demoted)
    moves = (last_move(held), last_move(gone))
    by_the_test = ((Action.RESTORED, CHALLENGER_TEST), (Action.ROLLED_BACK, CHALLENGER_TEST))
    if tuple(None if m is None else (m.action, m.by) for m in moves) != by_the_test:
        return
    run_id = gone.tags.get(DAGSTER_RUN_ID_TAG, "")
    run = instance.get_run_by_id(run_id) if run_id else None
    if run is not None and ROLLED_BACK_ON_TAG not in run.tags:
        mark_rolled_back_retraining(instance, registry, names, demoted, day)


def mark_rolled_back_retraining(
    instance: dg.DagsterInstance, registry: Any, names: ModelNames, demoted: str, day: str
) -> None:
    """Tag the Dagster run that registered `demoted` (a retraining, if it was one) with the
    last day the demoted version judged: the verdict's day, or the newest day scored since
    (labels land after their day, so it has scored days beyond the verdict's by the time the
    verdict comes). The drift sensor then counts that run's days as tried up to it and waits
    for a fresh alarming streak judged against the champion restored, so a rollback is not
    followed by a retraining on the demoted version's days (domain/retraining.py)."""
    from mlops_assets.contracts import DAGSTER_RUN_ID_TAG, ROLLED_BACK_ON_TAG

    run_id = registry.version(demoted).tags.get(DAGSTER_RUN_ID_TAG, "")
    if run_id and instance.get_run_by_id(run_id) is not None:
        # Every day scored before the rollback was scored by the champion of the time: on and
        # after the verdict's day, the demoted version (ISO days compare as text).
        scored = instance.get_materialized_partitions(names.batch_predictions)
        instance.add_run_tags(run_id, {ROLLED_BACK_ON_TAG: max([day, *scored])})


def move_alert(names: ModelNames, move: "AliasMove", champion: str, link: str) -> "Alert":
    """The webhook's message for a move on a verdict (`move`: the AliasMove act_on_verdict
    returned): a promotion, a rollback (the former champion shadowed after a promotion took
    `champion` back) or a retirement."""
    from mlops_assets.domain.alerts import Alert, AlertKind
    from mlops_assets.domain.promotion import Action

    challenger = move.version
    kind: AlertKind = "rejection"
    title = f"Challenger v{challenger} retired (champion stays v{champion})"
    if move.action is Action.RESTORED:
        kind = "rollback"
        title = (
            f"Promotion of v{champion} rolled back: former champion v{challenger} proven better "
            "on live labelled rows"
        )
    elif move.action is Action.PROMOTED:
        kind = "promotion"
        title = f"Challenger v{challenger} promoted to champion over v{champion}"
    # A declared model's alert says whose it is, as its other alerts do.
    title = f"{names.model}: {title}" if names.model else title
    return Alert(kind, title, f"{move.reason}; {move.evidence}", link)
