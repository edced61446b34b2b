"""A promotion stays under watch: the gate promotes a candidate over the champion, the former
champion is kept on as the `challenger`, and challenger_sensor acts on the shadow evidence of
the following days (stored simulated days of the sequential test, as in
test_challenger_sensor.py). Proven better, the former champion takes `champion` back through
the promotion service (a rollback, posted to the webhook); proven worse, it is retired and the
promotion stands. Real registered versions; the aliases read back through MLflow's own client."""

import traceback

import dagster as dg
import numpy as np
import pytest

from mlops_assets.asset_keys import CHALLENGER_COMPARISON
from mlops_assets.contracts import (
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    DAGSTER_RUN_ID_TAG,
    ROLE_REASON_TAG,
    ROLE_TAG,
    ROLLED_BACK_AT_TAG,
    ROLLED_BACK_ON_TAG,
)
from mlops_assets.defs.monitoring.comparison import (
    CHALLENGER_VERSION_KEY,
    CHAMPION_VERSION_KEY,
    ROLES_SINCE_KEY,
)
from mlops_assets.domain.challenger import ChallengerEvidence, SequentialTestSettings
from mlops_assets.domain.promotion import Action, audit_trail
from mlops_assets.domain.promotion.audit import roles_since
from mlops_assets.resources.alerts import AlertWebhook
from mlops_assets_tests import test_challenger_sensor as sensor_tests
from mlops_assets_tests.assets.test_challenger_shadow import SMALL, SMALLER
from mlops_assets_tests.test_challenger_sensor import _aliases, _tick

ROWS_A_DAY = 3000
# A gate that promotes any candidate not worse by a whole unit of log loss: the lenient
# offline decision whose mistakes the watch is there to catch.
alerts = sensor_tests.alerts  # the webhook endpoint fixture
LENIENT_GATE = {"ops": {"registered_model_version": {"config": {"min_improvement": -1.0}}}}


def _gate_promotes(project, data_source) -> str:
    """A training run whose candidate the lenient gate promotes; its version."""
    result = project.train(run_config=LENIENT_GATE, data_source=data_source)
    registered = result.output_for_node("registered_model_version")
    assert registered.outcome == "promoted", registered.reasons
    return str(registered.version)


def _store_days(project, champion: str, former: str, days, gain: float, seed: int) -> str:
    """Days on which the former champion (the challenger) is `gain` accuracy points better
    than the new champion (negative: worse), as challenger_comparison records them (two models
    disagreeing on 10% of rows); the last verdict's decision and reason."""
    rng = np.random.default_rng(seed)
    registry = project.registry()
    since = roles_since(registry.version(champion), registry.version(former))
    evidence = ChallengerEvidence(settings=SequentialTestSettings())
    verdict = None
    for day in days:
        disagree = rng.random(ROWS_A_DAY) < 0.10
        former_right = rng.random(ROWS_A_DAY) < 0.5 + gain / 0.2
        evidence = evidence.add_day(day, np.where(disagree, np.where(former_right, 1.0, -1.0), 0.0))
        verdict = evidence.verdict()
        project.instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=CHALLENGER_COMPARISON,
                partition=day,
                metadata={
                    **verdict.to_metadata(),
                    CHAMPION_VERSION_KEY: champion,
                    CHALLENGER_VERSION_KEY: former,
                    ROLES_SINCE_KEY: since,
                },
            )
        )
    assert verdict is not None
    return f"{verdict.decision} ({verdict.reason})"


def test_a_worse_gate_promotion_is_rolled_back_on_shadow_evidence_and_a_better_one_kept(
    project, alerts
):
    webhook = AlertWebhook(url=alerts.url, dagster_ui_url="http://ui.test")
    assert project.train(data_source=SMALL).success
    # The gate promotes v2; v1, the champion it replaced, stays on as the challenger.
    assert _gate_promotes(project, SMALLER) == "2"
    assert _aliases(project) == {CHAMPION_ALIAS: "2", CHALLENGER_ALIAS: "1"}
    registry = project.registry()
    former = registry.version("1")
    assert former.tags[ROLE_TAG] == "challenger"
    assert (
        "former champion, shadowed after v2 was promoted over it by gate"
        in (former.tags[ROLE_REASON_TAG])
    )

    # The following days show v1 2 points better: the promotion is rolled back.
    days = [f"2026-01-{d:02d}" for d in range(1, 11)]
    assert _store_days(project, "2", "1", days, gain=0.02, seed=3) == "promote (proven_better)"
    said = _tick(project, webhook)
    assert "v1 holds `champion` (restored by challenger_test" in said
    assert _aliases(project) == {CHAMPION_ALIAS: "1"}
    demoted = registry.version("2")
    assert demoted.tags[ROLE_TAG] == "none" and ROLLED_BACK_AT_TAG in demoted.tags
    # The run that registered v2 carries the verdict's day: the drift sensor counts its days
    # as tried up to it (test_retraining.py: only a fresh streak retrains after a rollback).
    run = project.instance.get_run_by_id(demoted.tags[DAGSTER_RUN_ID_TAG])
    assert run is not None and run.tags[ROLLED_BACK_ON_TAG] == days[-1]
    trail = [(m.version, m.action, m.by) for m in audit_trail(registry.versions())]
    assert trail[-5:] == [
        ("1", Action.REPLACED_AS_CHAMPION, "gate"),
        ("2", Action.PROMOTED, "gate"),
        ("1", Action.GUARDING, "gate"),
        ("2", Action.ROLLED_BACK, "challenger_test"),
        ("1", Action.RESTORED, "challenger_test"),
    ]
    assert "confidence sequence [" in audit_trail(registry.versions())[-1].evidence
    assert alerts.texts[-1].startswith(
        "Promotion of v2 rolled back: former champion v1 proven better on live labelled rows"
    )
    # Acted on once: the next tick finds the roles moved.
    assert "nothing to do" in _tick(project, webhook)
    assert _aliases(project) == {CHAMPION_ALIAS: "1"}

    # Another promotion by the gate, v3 over v1; this time v1 is worse on the following days:
    # it is retired and the promotion stands.
    assert _gate_promotes(project, SMALLER) == "3"
    assert _aliases(project) == {CHAMPION_ALIAS: "3", CHALLENGER_ALIAS: "1"}
    later = [f"2026-02-{d:02d}" for d in range(1, 11)]
    assert _store_days(project, "3", "1", later, gain=-0.02, seed=4).startswith("retire")
    said = _tick(project, webhook)
    assert "v1 holds no alias (challenger_retired by challenger_test" in said
    assert "former champion retired against v3" in said and "v3's promotion stands" in said
    assert _aliases(project) == {CHAMPION_ALIAS: "3"}
    assert alerts.texts[-1].startswith("Challenger v1 retired (champion stays v3)")
    assert len(alerts.texts) == 2


def test_with_the_watch_turned_off_the_former_champion_holds_no_alias(project):
    from mlops_assets.definitions import build_defs
    from mlops_assets.settings import Settings

    settings = Settings.from_env({"MLOPS_SHADOW_FORMER_CHAMPION": "off"})
    defs = build_defs(settings)
    job = defs.resolve_job_def("training_job")
    selected = job.asset_layer.selected_asset_keys
    assets = [defs.get_assets_def(key) for key in (*selected, dg.AssetKey("scoring_data"))]

    def train(data_source, run_config) -> str:
        result = dg.materialize(
            assets,
            selection=list(selected),
            resources=project.resources(data_source=data_source),
            instance=project.instance,
            run_config=run_config,
        )
        registered = result.output_for_node("registered_model_version")
        assert registered.outcome == "promoted", registered.reasons
        return str(registered.version)

    assert train(SMALL, {}) == "1"
    assert train(SMALLER, LENIENT_GATE) == "2"
    assert _aliases(project) == {CHAMPION_ALIAS: "2"}
    assert project.registry().version("1").tags[ROLE_TAG] == "none"


def test_a_tick_that_fails_after_the_rollback_still_tags_the_demoted_run(
    project, alerts, monkeypatch
):
    """The rollback (MLflow aliases) and the run tag that keeps the drift sensor from
    retraining on the demoted version's days (a Dagster run tag) are two writes. A tick that
    failed between them (the daemon restarted, the instance did not answer) left the rollback
    done and the run untagged for good: the next tick found the roles moved and did nothing.
    The next tick now finishes it."""
    from mlops_assets.defs.champion import challenger_sensor

    webhook = AlertWebhook(url=alerts.url, dagster_ui_url="http://ui.test")
    assert project.train(data_source=SMALL).success
    assert _gate_promotes(project, SMALLER) == "2"
    days = [f"2026-01-{d:02d}" for d in range(1, 11)]
    assert _store_days(project, "2", "1", days, gain=0.02, seed=3) == "promote (proven_better)"

    def lost(*args: object) -> None:
        raise RuntimeError("the instance did not answer")

    with monkeypatch.context() as patch:
        patch.setattr(challenger_sensor, "mark_rolled_back_retraining", lost)
        with pytest.raises(Exception) as failed:  # the tick fails, as Dagster records it
            _tick(project, webhook)
        assert "did not answer" in "".join(traceback.format_exception(failed.value))
    assert _aliases(project) == {CHAMPION_ALIAS: "1"}
    demoted = project.registry().version("2")
    run = project.instance.get_run_by_id(demoted.tags[DAGSTER_RUN_ID_TAG])
    assert run is not None and ROLLED_BACK_ON_TAG not in run.tags

    said = _tick(project, webhook)
    assert "nothing to do" in said
    run = project.instance.get_run_by_id(demoted.tags[DAGSTER_RUN_ID_TAG])
    assert run is not None and run.tags.get(ROLLED_BACK_ON_TAG) == days[-1]
    assert _aliases(project) == {CHAMPION_ALIAS: "1"}
