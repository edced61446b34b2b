"""Two first trainings on a fresh embedded MLflow store (SQLite in MLOPS_HOME), started at the
same instant in two real processes: both create the store's experiment, model and a run, and
neither trips over the other creating the tables ("table trace_info already exists")."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_assets.resources.mlflow_store import sqlite_database

# What a training does first with the store, once the imports are paid: the processes wait for
# the `go` file so that their first calls meet.
FIRST_TRAINING = """
import sys, time
from pathlib import Path
import mlflow
from mlops_assets.resources.mlflow_registry import MlflowRegistry

ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.001)
registry = MlflowRegistry()
experiment = registry.experiment_id()
registry.ensure_registered_model()
client = registry.client()
run = client.create_run(experiment)
client.log_metric(run.info.run_id, "accuracy", 0.8)
client.set_terminated(run.info.run_id)
print(experiment, run.info.run_id)
"""


@pytest.mark.slow  # two processes importing mlflow, twice
@pytest.mark.parametrize("attempt", range(2))
def test_two_first_trainings_on_a_fresh_store_both_finish(tmp_path, attempt):
    env = {**os.environ, "MLOPS_HOME": str(tmp_path / "mlops")}
    env.pop("MLFLOW_TRACKING_URI", None)
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", FIRST_TRAINING, str(tmp_path / f"ready{i}"), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
        assert time.monotonic() < deadline, "the processes never got ready"
        time.sleep(0.01)
    go.touch()
    outcomes = [p.communicate(timeout=120) for p in processes]
    for process, (_, err) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, err[-3000:]
    (experiment_a, run_a), (experiment_b, run_b) = (out.split() for out, _ in outcomes)
    assert experiment_a == experiment_b  # one experiment, found by the second
    assert run_a != run_b

    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlops' / 'mlflow.db'}"
    runs = MlflowClient(tracking_uri=uri).search_runs([experiment_a])
    assert sorted(r.info.run_id for r in runs) == sorted([run_a, run_b])
    assert {r.data.metrics["accuracy"] for r in runs} == {0.8}


def test_only_an_sqlite_file_is_prepared_under_a_lock():
    assert sqlite_database("sqlite:////srv/mlops/mlflow.db") == Path("/srv/mlops/mlflow.db")
    assert sqlite_database("sqlite:///relative.db") == Path("relative.db")
    assert sqlite_database("sqlite:///:memory:") is None
    assert sqlite_database("sqlite://") is None
    assert sqlite_database("http://mlflow:5000") is None
    assert sqlite_database("postgresql://u@db/mlflow") is None
