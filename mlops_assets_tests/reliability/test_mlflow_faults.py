"""MLflow down, hung or losing files while the pipeline talks to it: the steps that call MLflow
retry with backoff (mlflow_retry_policy), then fail with a message that names the server and
says what to do; a version is never registered without its metrics, tags and hash, never twice
for one training run, and never when its artefact is missing. Real MLflow servers and stores;
a hung server is a real `mlflow server` process stopped with SIGSTOP."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import pytest
import requests

from mlops_assets.contracts import CHAMPION_ALIAS, MODEL_HASH_TAG
from mlops_assets.definitions import defs
from mlops_assets.resources.data_source import TrainingDataSource
from mlops_assets.resources.mlflow_registry import MlflowRegistry

SMALL = TrainingDataSource(synthetic_rows=1500)
UP_TO_EVALUATION = ("raw_data", "validated_data", "trained_model", "evaluation_report")
RETRIES = int(os.environ["MLOPS_MLFLOW_MAX_RETRIES"])  # set small by the root conftest


@pytest.fixture(autouse=True)
def fail_fast_http(monkeypatch):
    # MLflow's client retries each HTTP call itself (7 times, with backoff, by default): here
    # every call fails at once, so what is tested is Dagster's retry of the step.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MlflowServer:
    """`mlflow server` on a free local port, SQLite backend and artefacts in `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        self.log = (root / "mlflow.log").open("ab")
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "mlflow"),
                "server",
                "--backend-store-uri",
                f"sqlite:///{root / 'mlflow.db'}",
                "--artifacts-destination",
                str(root / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while not self._healthy():
            assert self.process.poll() is None, (root / "mlflow.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "mlflow server did not start in 120 s"
            time.sleep(0.25)

    def _healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def signal(self, sig: int) -> None:
        os.killpg(self.process.pid, sig)

    def stop(self) -> None:
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait()
        self.log.close()


@pytest.fixture
def server(tmp_path) -> Iterator[MlflowServer]:
    root = tmp_path / "mlflow_server"
    root.mkdir()
    server = MlflowServer(root)
    try:
        yield server
    finally:
        server.stop()


def _materialize(project, keys, **resources) -> dg.ExecuteInProcessResult:
    """Materialise `keys` of the training graph; the others are read from their latest runs."""
    return dg.materialize(
        [
            defs.get_assets_def(key)
            for key in (*UP_TO_EVALUATION, "registered_model_version", "scoring_data")
        ],
        resources=project.resources(**resources),
        instance=project.instance,
        selection=list(keys),
        raise_on_error=False,
    )


def _events(result: dg.ExecuteInProcessResult, kind: dg.DagsterEventType, step: str) -> list:
    return [e for e in result.all_events if e.event_type == kind and e.step_key == step]


def _failure_message(result: dg.ExecuteInProcessResult, step: str) -> str:
    """What the UI shows for the failed step: after the last retry Dagster reports "Exceeded
    max_retries", caused by our failure, whose description is the message for people."""
    (failure,) = _events(result, dg.DagsterEventType.STEP_FAILURE, step)
    data = failure.step_failure_data
    if data.user_failure_data is not None:
        return data.user_failure_data.description
    return data.error.message


def _versions(registry: MlflowRegistry) -> list[tuple[str, tuple[str, ...]]]:
    return [(v.version, v.aliases) for v in registry.versions()]


def test_training_against_an_unreachable_mlflow_retries_then_fails_clearly(project):
    assert project.train(data_source=SMALL).success
    local = project.registry()
    before = _versions(local)

    port = _free_port()  # bound and released: nothing listens there
    down = MlflowRegistry(tracking_uri=f"http://127.0.0.1:{port}")
    result = project.train(data_source=SMALL, mlflow_registry=down)

    assert not result.success
    assert len(_events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY, "trained_model")) == RETRIES
    message = _failure_message(result, "trained_model")
    assert f"MLflow at http://127.0.0.1:{port} did not answer" in message
    assert "MLFLOW_TRACKING_URI" in message and "re-execute" in message
    assert not _events(result, dg.DagsterEventType.STEP_START, "registered_model_version")
    assert _versions(project.registry()) == before == _versions(local)


def _until_retry_then(project, action) -> threading.Thread:
    """In the background: wait for the first step retry of a run started from now on, then
    `action()`."""
    earlier = {run.run_id for run in project.instance.get_runs()}

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = [r for r in project.instance.get_runs(limit=1) if r.run_id not in earlier]
            if runs and project.instance.all_logs(
                runs[0].run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY
            ):
                action()
                return
            time.sleep(0.1)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_registration_with_a_hung_mlflow_fails_clearly_then_registers_exactly_once(project, server):
    remote = MlflowRegistry(tracking_uri=server.url)
    assert project.train(data_source=SMALL, mlflow_registry=remote).success
    candidate = _materialize(
        project,
        UP_TO_EVALUATION,
        data_source=TrainingDataSource(synthetic_rows=1500, synthetic_seed=3),
        mlflow_registry=remote,
    )
    assert candidate.success
    assert _versions(remote) == [("1", (CHAMPION_ALIAS,))]

    # Hung for longer than all retries: a clear failure, and nothing registered.
    server.signal(signal.SIGSTOP)
    hung = _materialize(project, ["registered_model_version"], mlflow_registry=remote)
    server.signal(signal.SIGCONT)
    assert not hung.success
    retries = _events(hung, dg.DagsterEventType.STEP_UP_FOR_RETRY, "registered_model_version")
    assert len(retries) == RETRIES
    message = _failure_message(hung, "registered_model_version")
    assert f"MLflow at {server.url} did not answer" in message
    assert "timeout" in message
    assert _versions(remote) == [("1", (CHAMPION_ALIAS,))]

    # Hung, then back during the retries: the step succeeds on a later attempt, and the version
    # exists once, registered with its metrics, gate tags and artefact hash.
    server.signal(signal.SIGSTOP)
    watcher = _until_retry_then(project, lambda: server.signal(signal.SIGCONT))
    recovered = _materialize(project, ["registered_model_version"], mlflow_registry=remote)
    watcher.join(timeout=5)
    assert recovered.success
    assert _events(recovered, dg.DagsterEventType.STEP_UP_FOR_RETRY, "registered_model_version")
    versions = remote.versions()
    assert [v.version for v in versions] == ["1", "2"]
    tags = versions[1].tags
    assert {"data_hash", "gate.decision", "gate.reasons", MODEL_HASH_TAG} <= set(tags)
    assert any(key.startswith("metric.test_") for key in tags)
    assert len(tags[MODEL_HASH_TAG]) == 64

    # Re-running the same registration (a retried step, a re-executed run) registers nothing.
    again = _materialize(project, ["registered_model_version"], mlflow_registry=remote)
    assert again.success
    assert again.output_for_node("registered_model_version").version == "2"
    assert [v.version for v in remote.versions()] == ["1", "2"]


def test_a_version_whose_artefact_is_missing_is_never_registered(project):
    assert project.train(data_source=SMALL).success
    candidate = _materialize(
        project,
        UP_TO_EVALUATION,
        data_source=TrainingDataSource(synthetic_rows=1500, synthetic_seed=9),
    )
    assert candidate.success
    registry = project.registry()
    before = _versions(registry)
    model_uri = candidate.output_for_node("trained_model").model_uri
    logged = registry.client().get_logged_model(model_uri.removeprefix("models:/"))
    shutil.rmtree(urlparse(logged.artifact_location).path)

    result = _materialize(project, ["registered_model_version"])
    assert not result.success
    # Not an outage: failed at once, without retries.
    assert not _events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY, "registered_model_version")
    message = _failure_message(result, "registered_model_version")
    assert model_uri in message and "artefact" in message and "retrain" in message
    assert _versions(registry) == before
    assert registry.version_by_alias(CHAMPION_ALIAS).version == "1"


def test_only_an_outage_counts_as_mlflow_unavailable():
    from mlflow.exceptions import MlflowException, RestException

    from mlops_assets.resources.mlflow_registry import mlflow_unavailable

    refused = "API request to http://m:5000/api/2.0/x failed with exception Max retries exceeded"
    assert mlflow_unavailable(MlflowException(refused))
    assert mlflow_unavailable(
        MlflowException("API request to http://m/x failed with timeout exception")
    )
    assert mlflow_unavailable(
        RestException({"error_code": "TEMPORARILY_UNAVAILABLE", "message": "db"})
    )
    assert mlflow_unavailable(requests.ConnectionError("refused"))
    try:
        raise RuntimeError("while registering") from TimeoutError("slow")
    except RuntimeError as wrapped:
        assert mlflow_unavailable(wrapped)
    assert not mlflow_unavailable(
        RestException({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such model"})
    )
    assert not mlflow_unavailable(MlflowException("Invalid value for max_results"))
    assert not mlflow_unavailable(ValueError("Input X contains infinity"))
