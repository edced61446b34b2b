"""Two trainings promote at once (a sensor's retraining and a manual launch): the gate reads
the champion, decides, and moves the alias under one lock (compare-and-set). A run whose
champion moved while it ran is judged again against the new champion before it may take over,
so no two runs replace the same champion, and the better model ends up as `champion` whichever
run reaches the gate first. In a deployment the run queue also runs them one at a time
(`mlops/gate: champion`, limit 1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from mlops_assets.contracts import CHAMPION_ALIAS
from mlops_assets.domain.synthetic import generate_training_data
from mlops_assets.resources.data_source import TrainingDataSource
from mlops_assets.resources.project import ProjectStorage

REPO = Path(__file__).resolve().parents[2]

# One training run in its own process, on the shared MLOPS_HOME (MLflow store, lock) and the
# shared Dagster instance in DAGSTER_HOME; prints what the gate decided.
TRAIN = """
import json, sys
import dagster as dg
from mlops_assets.definitions import build_resources, defs
from mlops_assets.resources.data_source import TrainingDataSource

rows, seed = int(sys.argv[1]), int(sys.argv[2])
with dg.DagsterInstance.get() as instance:
    result = defs.resolve_job_def("retraining_job").execute_in_process(
        instance=instance,
        resources={**build_resources(), "data_source": TrainingDataSource(synthetic_rows=rows,
                                                                          synthetic_seed=seed)},
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    out = result.output_for_node("registered_model_version")
    print(json.dumps({"version": out.version, "promoted": out.promoted,
                      "reasons": list(out.reasons)}))
"""


def _start(rows: int, seed: int, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", TRAIN, str(rows), str(seed)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _runs_at_the_gate(dagster_home: Path) -> int:
    """How many runs of the instance have started their registered_model_version step."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        return sum(
            1
            for run in instance.get_runs()
            for event in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
            if event.step_key == "registered_model_version"
        )


@pytest.mark.slow  # trainings in concurrent processes
def test_concurrent_promotions_move_champion_once_per_champion_and_keep_the_better(
    project, tmp_path
):
    # v1: a model that learnt nothing (shuffled labels), champion by the absolute floor only.
    noise = generate_training_data(n_rows=1500, seed=1)
    noise["default"] = noise["default"].sample(frac=1.0, random_state=0).to_numpy()
    noise.to_csv(tmp_path / "noise.csv", index=False)
    assert project.train(
        data_source=TrainingDataSource(location=str(tmp_path / "noise.csv")),
        run_config={
            "ops": {"registered_model_version": {"config": {"min_metrics": {"roc_auc": 0}}}}
        },
    ).success
    registry = project.registry()
    assert registry.version_by_alias(CHAMPION_ALIAS).version == "1"

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    (tmp_path / "dagster_home").mkdir()
    # The instance's SQLite databases exist before the two processes open it: created by both
    # at once, their schema stamps would collide.
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        instance.get_runs(limit=1)
    lock = ProjectStorage().lock(f"champion-{registry.model_name}")
    # Holding the gate's lock lines the two runs up: both evaluate against v1, then wait at
    # the gate together (registration, decision and alias move all happen under the lock),
    # which is the race the compare-and-set is for.
    with lock:
        medium = _start(2000, 2, env)  # a real model on little data
        strong = _start(6000, 3, env)  # the same on three times the data: the better one
        # Generous: a guard against a deadlock on a loaded CI machine, not a speed claim.
        deadline = time.monotonic() + 900
        while _runs_at_the_gate(tmp_path / "dagster_home") < 2:
            for process in (medium, strong):
                assert process.poll() is None, process.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the two runs never reached the gate"
            time.sleep(0.5)
        time.sleep(2.0)  # both are now waiting for the lock
        assert len(registry.versions()) == 1  # nothing registered outside the lock
    outcomes = {}
    for name, process in (("medium", medium), ("strong", strong)):
        stdout, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, stderr[-3000:]
        outcomes[name] = json.loads(stdout.strip().splitlines()[-1])

    versions = {v.version: v for v in registry.versions()}
    assert sorted(versions) == ["1", "2", "3"]
    # Each run trained on its own data (the resource given to its run), not the other's.
    assert versions["2"].tags["data_hash"] != versions["3"].tags["data_hash"]
    # Both were evaluated against v1; the one that reached the gate second saw the champion
    # move and was judged again against the new champion.
    moved = [o for o in outcomes.values() if "champion moved from 1 to" in " ".join(o["reasons"])]
    assert len(moved) == 1, outcomes
    # The better model holds the alias, whatever the order.
    assert registry.version_by_alias(CHAMPION_ALIAS).version == outcomes["strong"]["version"], (
        outcomes
    )
    assert outcomes["strong"]["promoted"]
    # Every move of the alias replaced exactly the version it was judged against: one
    # promotion from v1, and a second only over the first, never two over the same champion.
    promoted = [v for v in versions.values() if v.tags.get("gate.decision") == "promoted"]
    replaced = [v.tags["champion.replaced"] for v in promoted if v.version != "1"]
    assert replaced.count("1") == 1
    for version in promoted:
        if version.version != "1":
            assert version.tags["champion.replaced"] == version.tags["evaluated_against_champion"]
    if outcomes["medium"]["promoted"]:  # the medium model won the race: strong replaced it
        assert (
            versions[outcomes["strong"]["version"]].tags["champion.replaced"]
            == (outcomes["medium"]["version"])
        )


def test_every_run_that_may_move_the_champion_shares_one_queue_slot():
    """The queue's side (exercised for real in test_cli.py): the same limit in every instance
    config, and every job that can move the alias tagged for it."""
    from mlops_assets.definitions import defs

    for name in ("training_job", "retraining_job", "rollback_champion_job", "promote_version_job"):
        assert defs.resolve_job_def(name).tags["mlops/gate"] == "champion", name

    assert "mlops/gate" not in defs.resolve_job_def("daily_monitoring_job").tags
    for config in ("dagster.yaml", "deploy/dagster.yaml", "docker/dagster.yaml"):
        instance = yaml.safe_load((REPO / config).read_text())
        limits = instance["run_coordinator"]["config"]["tag_concurrency_limits"]
        assert {"key": "mlops/gate", "value": "champion", "limit": 1} in limits, config
