"""A promotion killed with SIGKILL at any point (a real process, a real MLflow store) leaves
tags, description and alias that the next promotion recognises and repairs: no version tagged
`gate.decision=promoted` that never was champion, no champion without its promotion record or
its description, no former champion left unarchived."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlops_assets.contracts import (
    ARCHIVED_AT_TAG,
    CHAMPION_ALIAS,
    GATE_DECISION_TAG,
    PENDING_CHALLENGER_TAG,
    PROMOTED_AT_TAG,
    REPLACED_TAG,
)
from mlops_assets.domain.promotion import (
    Action,
    GateOutcome,
    audit_trail,
    interrupted_repairs,
    register_and_promote,
)
from mlops_assets.domain.training import SKOPS_TRUSTED_TYPES
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.resources.project import ProjectStorage
from mlops_assets_tests.reliability import promotion_kill

KILLER = Path(promotion_kill.__file__)
# Writes of a promotion of v2 over champion v1: 1 registration, 2-8 the run's gate tags, 9 the
# alias, 10-12 the move's tags, 13-17 the replaced champion's audit record (the model's audit
# counter, entry, role, reason, description), 18-22 v2's (its description last), 23 the intent
# of the watch (domain/promotion/pending.py), 24 the `challenger` alias on v1 (the former
# champion kept under watch), 25-29 its `guarding` record, 30 the intent cleared. Killed after
# each of these:
KILL_POINTS = (1, 2, 8, 9, 10, 12, 13, 14, 17, 20, 23, 24, 25, 26, 29)
WATCH_BEGUN = 23


def _logged_model(registry: MlflowRegistry, name: str) -> tuple[str, str]:
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
    model = LogisticRegression().fit(frame[["x"]], frame["y"])
    with registry.training_run(registry.experiment_id(), name, {}) as run_id:
        uri = registry.log_sklearn_model(
            run_id,
            model,
            signature=None,
            input_example=frame[["x"]].head(2),
            pip_requirements=["scikit-learn"],
            skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
        )
    return run_id, uri


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store whose champion v1 was promoted by the gate, and two more logged models (runs)
    not yet registered: the one whose promotion is killed, and the next."""
    root = tmp_path_factory.mktemp("kills")
    home = root / "home"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLOPS_HOME", str(home))
        registry = MlflowRegistry(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
        models = [_logged_model(registry, f"train {n}") for n in (1, 2, 3)]
        first = register_and_promote(
            registry,
            ProjectStorage(home=str(home)).lock,
            promotion_kill.candidate(*models[0], None),
            promotion_kill.GATE,
            lambda: None,
        )
        assert first.promoted and first.version == "1"
    return home, models


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", KILL_POINTS)
def test_a_promotion_killed_at_any_point_is_repaired_by_the_next(
    store, tmp_path, monkeypatch, kill_after
):
    original, models = store
    home = tmp_path / "home"
    home.mkdir()
    # The store as it was (its artefacts stay where the original logged them).
    shutil.copyfile(original / "mlflow.db", home / "mlflow.db")
    uri = f"sqlite:///{home / 'mlflow.db'}"
    (run2, model2), (run3, model3) = models[1], models[2]
    killed = subprocess.run(
        [sys.executable, str(KILLER), uri, str(home), run2, model2, str(kill_after)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]

    monkeypatch.setenv("MLOPS_HOME", str(home))
    registry = MlflowRegistry(tracking_uri=uri)
    left = {v.version: v for v in registry.versions()}
    v2 = left["2"]
    # What the kill left: inconsistent, or a move of `challenger` begun (its intent), in a way
    # the next promotion can see.
    pending = registry.model_tag(PENDING_CHALLENGER_TAG)
    assert interrupted_repairs(list(left.values()), now="2026-01-01T00:00:00+00:00") or pending
    assert bool(pending) == (WATCH_BEGUN <= kill_after < WATCH_BEGUN + 7)
    moved = CHAMPION_ALIAS in v2.aliases

    outcome = register_and_promote(
        registry,
        ProjectStorage(home=str(home)).lock,
        promotion_kill.candidate(run3, model3, "1"),
        promotion_kill.GATE,
        lambda: promotion_kill.better_than("2" if moved else "1"),
    )
    assert outcome.promoted and outcome.version == "3"

    after = {v.version: v for v in registry.versions()}
    v1, v2, v3 = after["1"], after["2"], after["3"]
    assert interrupted_repairs(list(after.values()), now="2026-01-01T00:00:00+00:00") == []
    assert not registry.model_tag(PENDING_CHALLENGER_TAG)
    assert v3.aliases == (CHAMPION_ALIAS,) and PROMOTED_AT_TAG in v3.tags
    assert v3.tags[REPLACED_TAG] == ("2" if moved else "1")
    assert v3.description.startswith("**Role: champion** — v3 holds `champion` (promoted by gate")
    assert "**Gate decision: Promoted to champion**" in v3.description
    assert ARCHIVED_AT_TAG in v1.tags
    assert v2.description.strip(), "every judged version has its gate page"
    if moved:
        # It was champion: its record is complete, and it was archived when v3 replaced it.
        assert v2.tags[GATE_DECISION_TAG] == "promoted"
        assert PROMOTED_AT_TAG in v2.tags and ARCHIVED_AT_TAG in v2.tags
        assert v2.tags[REPLACED_TAG] == "1"
        # Replaced by v3, it is now the former champion kept under watch.
        assert v2.description.startswith("**Role: challenger** — v2 holds `challenger` (guarding")
        assert "**Gate decision: Promoted to champion**" in v2.description
        if kill_after >= WATCH_BEGUN:
            # The watch was begun: v1 was under watch when v3 came (the next promotion
            # finished the move the kill interrupted), and lost `challenger` to v2.
            v1_moves = [m.action for m in audit_trail([v1])]
            assert v1_moves[-2:] == [Action.GUARDING, Action.CHALLENGER_REPLACED], v1_moves
    else:
        # Never champion: not tagged as if it had been.
        assert v2.tags[GATE_DECISION_TAG] == GateOutcome.INTERRUPTED
        assert PROMOTED_AT_TAG not in v2.tags
        assert "interrupted" in v2.description and "promote_version_job" in v2.description
