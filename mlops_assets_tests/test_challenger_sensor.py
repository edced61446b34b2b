"""challenger_sensor acting on stored challenger_comparison days: real registered versions, a
real Dagster instance holding simulated days of the sequential test (the paired differences of
a challenger equal to the champion, then of a better one), the aliases read back through
MLflow's own client, the move in the audit trail and posted to a webhook."""

import json
import threading
from collections.abc import Iterator
from dataclasses import replace

import dagster as dg
import numpy as np
import pytest

from mlops_assets.asset_keys import CHALLENGER_COMPARISON
from mlops_assets.contracts import CANARY_SHARE_TAG, CHALLENGER_ALIAS, CHAMPION_ALIAS
from mlops_assets.defs.monitoring.comparison import (
    CHALLENGER_VERSION_KEY,
    CHAMPION_VERSION_KEY,
    ROLES_SINCE_KEY,
)
from mlops_assets.domain.challenger import ChallengerEvidence, SequentialTestSettings
from mlops_assets.domain.promotion import Action, audit_trail
from mlops_assets.domain.promotion.audit import roles_since
from mlops_assets.domain.serve_modes import ServeMode
from mlops_assets.resources.alerts import AlertWebhook
from mlops_assets_tests.assets.test_challenger_shadow import SMALL, SMALLER, set_role_by_hand
from mlops_assets_tests.test_alert_sensors import Receiver

ROWS_A_DAY = 3000


@pytest.fixture
def alerts() -> Iterator[Receiver]:
    """A webhook endpoint recording what the sensor posts."""
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def _aliases(project) -> dict[str, str]:
    registry = project.registry()
    model = registry.client().get_registered_model(registry.model_name)
    return {alias: str(version) for alias, version in model.aliases.items()}


def _store_days(project, days, settings, gain: float, seed: int) -> str:
    """Days of a challenger `gain` accuracy points better than the champion (0/1 losses of two
    models that disagree on 10% of rows), recorded as challenger_comparison records them; the
    last verdict's decision and reason."""
    rng = np.random.default_rng(seed)
    registry = project.registry()
    since = roles_since(registry.version("1"), registry.version("2"))
    evidence = ChallengerEvidence(settings=settings)
    verdict = None
    for day in days:
        # On a disagreeing row the challenger is right with probability 1/2 + gain / (2 * 0.1).
        disagree = rng.random(ROWS_A_DAY) < 0.10
        challenger_right = rng.random(ROWS_A_DAY) < 0.5 + gain / 0.2
        differences = np.where(disagree, np.where(challenger_right, 1.0, -1.0), 0.0)
        evidence = evidence.add_day(day, differences)
        verdict = evidence.verdict()
        project.instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=CHALLENGER_COMPARISON,
                partition=day,
                metadata={
                    **verdict.to_metadata(),
                    CHAMPION_VERSION_KEY: "1",
                    CHALLENGER_VERSION_KEY: "2",
                    ROLES_SINCE_KEY: since,
                },
            )
        )
    assert verdict is not None
    return f"{verdict.decision} ({verdict.reason})"


def _roll_back(project) -> None:
    from mlops_assets.definitions import defs

    config = {"ops": {"rollback_champion": {"config": {"reason": "test"}}}}
    job = defs.resolve_job_def("rollback_champion_job")
    assert job.execute_in_process(
        instance=project.instance, resources=project.resources(), run_config=config
    ).success


def _tick(project, webhook: AlertWebhook | None = None, mode: ServeMode | None = None) -> str:
    """One tick of the code location's challenger_sensor; with `mode`, of the sensor the code
    location builds when the service's MLOPS_SERVE_MODE is `mode`."""
    from mlops_assets.asset_keys import DEFAULT
    from mlops_assets.definitions import SETTINGS, defs
    from mlops_assets.defs.champion.challenger_sensor import challenger_sensor

    sensor = defs.resolve_sensor_def("challenger_sensor")
    if mode is not None:
        sensor = challenger_sensor(replace(SETTINGS, serve_mode=mode), DEFAULT)
    resources = project.resources()
    if webhook is not None:
        resources["alert_webhook"] = webhook
    with dg.build_sensor_context(
        instance=project.instance, definitions=defs, resources=resources
    ) as context:
        return sensor.evaluate_tick(context).skip_message or ""


def test_the_challenger_sensor_retires_an_equal_challenger_and_promotes_a_better_one(
    project, alerts
):
    webhook = AlertWebhook(url=alerts.url, dagster_ui_url="http://ui.test")
    assert project.train(data_source=SMALL).success
    assert project.train(data_source=SMALLER).success
    set_role_by_hand(project, "2", "challenger")
    assert _aliases(project) == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "2"}
    assert _tick(project, webhook) == "no challenger verdict yet"

    # An equal challenger: collecting, and nothing moves...
    horizon = SequentialTestSettings(max_rows=30_000)
    days = [f"2026-01-{d:02d}" for d in range(1, 21)]
    assert (
        _store_days(project, days[:5], horizon, gain=0.0, seed=1) == "keep_collecting (collecting)"
    )
    collecting = _tick(project, webhook, mode="canary")
    assert "keep collecting after 15000 labelled rows" in collecting
    # ...but the canary's share (the tag the service reads) takes its first step.
    assert collecting.endswith("the canary share is now 5% of live traffic")
    assert _aliases(project) == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "2"}
    # ...until the horizon, where it is retired, never promoted.
    assert _store_days(project, days[:10], horizon, gain=0.0, seed=1) == (
        "retire (undecided_at_horizon)"
    )
    assert "challenger_retired by challenger_test" in _tick(project, webhook)
    assert _aliases(project) == {CHAMPION_ALIAS: "1"}
    # A second tick on the same verdict finds the roles moved and does nothing.
    assert "nothing to do" in _tick(project, webhook)

    # A challenger 2 points better is promoted within days, and the champion replaced.
    set_role_by_hand(project, "2", "challenger")
    later = [f"2026-02-{d:02d}" for d in range(1, 11)]
    assert _store_days(project, later, SequentialTestSettings(), gain=0.02, seed=2) == (
        "promote (proven_better)"
    )
    assert "v2 holds `champion` (promoted by challenger_test" in _tick(project, webhook)
    assert _aliases(project) == {CHAMPION_ALIAS: "2"}

    trail = audit_trail(project.registry().versions())
    by_test = [
        (m.version, m.action)
        for m in trail
        if m.by == "challenger_test" and m.action != Action.CANARY_SHARE_SET
    ]
    # The retirement, then the promotion's two halves (their relative order is not the point).
    assert by_test[0] == ("2", Action.CHALLENGER_RETIRED)
    assert sorted(by_test[1:]) == [("1", Action.REPLACED_AS_CHAMPION), ("2", Action.PROMOTED)]
    assert "confidence sequence [" in trail[-1].evidence
    titles = alerts.texts
    assert titles[0].startswith("Challenger v2 retired (champion stays v1)")
    assert titles[1].startswith("Challenger v2 promoted to champion over v1")
    assert len(titles) == 2

    # A person rolls back to v1 and makes v2 the challenger again: February's `promote` judged
    # the pair's earlier tenure, so it must not re-promote v2 and undo the rollback.
    _roll_back(project)
    set_role_by_hand(project, "2", "challenger")
    assert _aliases(project) == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "2"}
    assert "nothing to do" in _tick(project, webhook)
    assert _aliases(project) == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "2"}

    # While another process holds the champion lock: a stale verdict is skipped without it, and
    # a decisive one on the current pair waits a short while, then leaves it to the next tick.
    from mlops_assets.definitions import build_resources

    registry = project.registry()
    lock_name = f"champion-{registry.model_name}"
    with build_resources()["storage"].lock(lock_name):
        assert "nothing to do" in _tick(project, webhook)
        march = [f"2026-03-{d:02d}" for d in range(1, 11)]
        assert _store_days(project, march, SequentialTestSettings(), gain=0.02, seed=2) == (
            "promote (proven_better)"
        )
        assert "the next tick retries" in _tick(project, webhook)
        assert _aliases(project) == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "2"}
    assert "v2 holds `champion` (promoted by challenger_test" in _tick(project, webhook)


def test_a_collecting_verdict_steps_the_canary_share_only_when_served_in_canary_mode(project):
    """In shadow, bandit or champion mode no request reads the canary share: a collecting
    verdict steps nothing and the audit trail stays free of meaningless moves."""
    assert project.train(data_source=SMALL).success
    assert project.train(data_source=SMALLER).success
    set_role_by_hand(project, "2", "challenger")
    days = [f"2026-01-{d:02d}" for d in range(1, 6)]
    assert _store_days(project, days, SequentialTestSettings(), gain=0.0, seed=1) == (
        "keep_collecting (collecting)"
    )

    def steps() -> list[str]:
        trail = audit_trail(project.registry().versions())
        return [m.version for m in trail if m.action is Action.CANARY_SHARE_SET]

    for mode in ("shadow", "bandit", "champion"):
        said = _tick(project, mode=mode)
        assert said.endswith(f"no canary share to step ({mode} mode)")
    assert steps() == []
    assert CANARY_SHARE_TAG not in project.registry().version("2").tags

    assert _tick(project, mode="canary").endswith("the canary share is now 5% of live traffic")
    assert steps() == ["2"]
    assert json.loads(project.registry().version("2").tags[CANARY_SHARE_TAG])["share"] == 0.05
    assert _aliases(project) == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "2"}


def test_the_code_location_reads_the_serve_mode_the_service_reads():
    from mlops_assets.serving.settings import ServeSettings
    from mlops_assets.settings import Settings, SettingsError

    for raw in ("", "Canary", " shadow ", "bandit"):
        env = {"MLOPS_SERVE_MODE": raw, "MLOPS_LABELS_DATA": "/labels"}
        assert Settings.from_env(env).serve_mode == ServeSettings.from_env(env).mode
    with pytest.raises(SettingsError, match=r"MLOPS_SERVE_MODE='ab': expected one of .*canary"):
        Settings.from_env({"MLOPS_SERVE_MODE": "ab"})


def test_a_rollback_counts_as_tried_the_days_the_demoted_version_scored_after_the_verdict():
    """Labels land after their day: when the verdict on day 10 rolls a promotion back, the
    demoted version has already scored days 11 and 12. Their drift was judged against it, not
    against the champion restored, so they must not start the fresh streak the drift sensor
    waits for: the run is marked with the last day scored, not the verdict's day."""
    from types import SimpleNamespace

    from mlops_assets.asset_keys import DEFAULT
    from mlops_assets.contracts import DAGSTER_RUN_ID_TAG, ROLLED_BACK_ON_TAG
    from mlops_assets.defs.champion.challenger_sensor import mark_rolled_back_retraining

    @dg.asset
    def trained() -> int:
        return 1

    with dg.DagsterInstance.ephemeral() as instance:
        run_id = dg.materialize([trained], instance=instance).run_id
        for day in ("2026-01-10", "2026-01-11", "2026-01-12"):
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key=DEFAULT.batch_predictions, partition=day)
            )
        demoted = SimpleNamespace(tags={DAGSTER_RUN_ID_TAG: run_id})
        registry = SimpleNamespace(version=lambda version: demoted)
        mark_rolled_back_retraining(instance, registry, DEFAULT, "2", "2026-01-10")
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.tags[ROLLED_BACK_ON_TAG] == "2026-01-12"
