"""The two live roles end to end: real training runs judged by the gate, the aliases read back
through MLflow's own client, and promote_version_job setting and retiring a challenger by
hand with its reason in the audit trail."""

import dagster as dg

from mlops_assets.contracts import CHALLENGER_ALIAS, CHAMPION_ALIAS, ROLE_REASON_TAG, ROLE_TAG
from mlops_assets.definitions import defs
from mlops_assets.domain.promotion import Action, audit_trail
from mlops_assets.resources.data_source import TrainingDataSource

SMALL = TrainingDataSource(synthetic_rows=2000)


def _aliases(project) -> dict[str, str]:
    """Who holds which alias, as any MLflow client sees it."""
    registry = project.registry()
    model = registry.client().get_registered_model(registry.model_name)
    return {alias: str(version) for alias, version in model.aliases.items()}


def _role_job(project, version: str, role: str, reason: str) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("promote_version_job").execute_in_process(
        instance=project.instance,
        resources=project.resources(),
        run_config={
            "ops": {
                "promote_version": {
                    "config": {
                        "version": version,
                        "role": role,
                        "reason": reason,
                        "requested_by": "ann",
                    }
                }
            }
        },
        raise_on_error=False,
    )


def test_the_gate_makes_a_champion_a_challenger_and_rejects_with_aliases_in_mlflow(project):
    first = project.train(data_source=SMALL)
    assert first.output_for_node("registered_model_version").outcome == "promoted"
    assert _aliases(project) == {CHAMPION_ALIAS: "1"}

    # The same data again: an equal model, its interval includes 0: the challenger.
    second = project.train(data_source=SMALL).output_for_node("registered_model_version")
    assert (second.version, second.outcome, second.challenger_version) == ("2", "challenger", "2")
    assert _aliases(project) == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "2"}

    # A third equal model replaces it: one challenger at a time.
    third = project.train(data_source=SMALL).output_for_node("registered_model_version")
    assert third.outcome == "challenger"
    assert _aliases(project) == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "3"}

    # A candidate that fails a hard check takes no alias; the challenger stays.
    rejected = project.train(
        data_source=SMALL,
        run_config={
            "ops": {"registered_model_version": {"config": {"max_metrics": {"log_loss": 0.01}}}}
        },
    ).output_for_node("registered_model_version")
    assert (rejected.version, rejected.outcome) == ("4", "rejected")
    assert _aliases(project) == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "3"}

    client = project.registry().client()
    name = project.registry().model_name
    v2, v3, v4 = (client.get_model_version(name, v) for v in ("2", "3", "4"))
    assert (v2.tags[ROLE_TAG], v3.tags[ROLE_TAG], v4.tags[ROLE_TAG]) == (
        "none",
        "challenger",
        "none",
    )
    assert v2.tags[ROLE_REASON_TAG].startswith("v2 holds no alias (challenger_replaced by gate")
    assert v3.description.startswith("**Role: challenger** — v3 holds `challenger`")
    assert "includes 0" in v3.description
    assert v4.description.startswith("**Role: none** — rejected by the gate: log_loss")
    trail = audit_trail(project.registry().versions())
    assert [(m.version, m.action) for m in trail] == [
        ("1", Action.PROMOTED),
        ("2", Action.CHALLENGER_SET),
        ("2", Action.CHALLENGER_REPLACED),
        ("3", Action.CHALLENGER_SET),
    ]
    # Each gate move carries the comparison's effect and interval as its evidence.
    assert trail[3].evidence.startswith("improvement ") and "95% CI [" in trail[3].evidence

    event = project.instance.get_latest_materialization_event(
        dg.AssetKey("registered_model_version")
    )
    metadata = event.asset_materialization.metadata
    assert metadata["gate_outcome"].value == "rejected"
    assert metadata["challenger_version"].value == "3"
    assert "| challenger | v3 |" in metadata["roles"].value


def test_promote_version_job_sets_a_challenger_by_hand_and_retires_it_with_reasons(project):
    assert project.train(data_source=SMALL).success
    rejected = project.train(
        data_source=SMALL,
        run_config={
            "ops": {"registered_model_version": {"config": {"max_metrics": {"log_loss": 0.01}}}}
        },
    ).output_for_node("registered_model_version")
    assert rejected.outcome == "rejected" and _aliases(project) == {CHAMPION_ALIAS: "1"}

    assert _role_job(project, "2", "challenger", "shadow it: the floor was a typo").success
    assert _aliases(project) == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "2"}
    # The champion cannot also be the challenger; nothing moves.
    refused = _role_job(project, "1", "challenger", "both roles")
    assert not refused.success and _aliases(project) == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "2"}
    # Retiring names the version: one that is not the challenger is refused.
    assert not _role_job(project, "1", "none", "wrong one").success

    assert _role_job(project, "2", "none", "worse on live traffic").success
    assert _aliases(project) == {CHAMPION_ALIAS: "1"}
    manual = [m for m in audit_trail(project.registry().versions()) if m.by == "ann"]
    assert [(m.version, m.action, m.reason) for m in manual] == [
        ("2", Action.CHALLENGER_SET, "shadow it: the floor was a typo"),
        ("2", Action.CHALLENGER_RETIRED, "worse on live traffic"),
    ]
    v2 = project.registry().client().get_model_version(project.registry().model_name, "2")
    assert v2.tags[ROLE_TAG] == "none"
    assert v2.description.startswith(
        "**Role: none** — v2 holds no alias (challenger_retired by ann"
    )
