"""The first commands a Dagster user types, at the repo root, with the venv's `dagster` and no
DAGSTER_HOME: they must find the laptop instance (SQLite under .dagster_home/, the run queue with
its champion limit) and the in-process workspace, never the production files in deploy/.

Each test runs in a temp copy of the working tree (tracked and new files, as they are now), so
nothing is left in the repo."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import requests
import yaml
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.run_coordinator import QueuedRunCoordinator

# Each test runs the dagster CLI in subprocesses.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHAMPION_LIMIT = {"key": "mlops/gate", "value": "champion", "limit": 1}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the working tree, as a fresh clone with local edits would have it."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    copy = tmp_path / "repo"
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


def _environment(tmp_path: Path) -> dict[str, str]:
    """The user's shell with the venv activated: no DAGSTER_HOME, none of the project's settings,
    MLOPS_HOME kept out of the copy so only Dagster's files land in it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "DAGSTER_HOME" and not key.startswith(("MLOPS_", "MLFLOW_", "DAGSTER_PG_"))
    }
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "VIRTUAL_ENV": str(BIN.parent),
            "MLOPS_HOME": str(tmp_path / "mlops"),
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
            "DAGSTER_DISABLE_TELEMETRY": "1",
        }
    )
    return env


def _dg(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The `dg` CLI: the repo root is a dg project ([tool.dg] in pyproject.toml)."""
    return subprocess.run(
        [str(BIN / "dg"), *args], cwd=project, env=env, capture_output=True, text=True, timeout=600
    )


def _dagster(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "dagster"), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_validate_and_job_execute_work_at_the_repo_root_without_dagster_home(
    project, tmp_path, monkeypatch
):
    env = _environment(tmp_path)
    before = {path.name for path in project.iterdir()}

    validated = _dg(project, env, "check", "defs")
    assert validated.returncode == 0, validated.stderr[-3000:]
    assert "All definitions loaded successfully." in validated.stdout
    assert "DAGSTER_PG" not in validated.stderr
    listed = json.loads(_dg(project, env, "list", "defs", "--json").stdout)
    assert {job["name"] for job in listed["jobs"]} >= {"training_job", "daily_monitoring_job"}
    assert {sensor["name"] for sensor in listed["sensors"]} >= {"drift_retraining_sensor"}

    executed = _dagster(
        project, env, "job", "execute", "-m", "mlops_assets.definitions", "-j", "training_job"
    )
    assert executed.returncode == 0, executed.stderr[-3000:]

    # The run is kept in the project's SQLite instance (not in Dagster's temp directory, which
    # is gone), and nothing else appeared in the repo: no .tmp_dagster_home_*, no mlruns/.
    assert {path.name for path in project.iterdir()} - before == {".dagster_home"}
    monkeypatch.chdir(project)  # the instance's paths are relative to the repo root
    with dg.DagsterInstance.from_config(str(project)) as instance:
        (run,) = instance.get_runs(dg.RunsFilter(job_name="training_job"))
        assert run.status == dg.DagsterRunStatus.SUCCESS
        # `dagster job launch` and the UI queue runs here, one champion-moving run at a time.
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        queue = instance.run_coordinator.get_run_queue_config()
        assert CHAMPION_LIMIT in queue.tag_concurrency_limits
    assert (project / ".dagster_home" / "history" / "runs.db").is_file()
    assert (project / ".dagster_home" / "storage" / run.run_id / "compute_logs").is_dir()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_dev(project: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """`dg dev` at the repo root, as `make ui` runs it, once it serves; its URL."""
    port = _free_port()
    with log.open("wb") as out:
        dev = subprocess.Popen(
            [str(BIN / "dg"), "dev", "-h", "127.0.0.1", "-p", str(port)],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if dev.poll() is not None:
            raise AssertionError(f"dg dev exited: {log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/server_info", timeout=5).ok:
                return dev, url
        except requests.RequestException:
            pass
        time.sleep(1)
    _stop_dev(dev)
    raise AssertionError(f"dg dev did not serve: {log.read_text()[-3000:]}")


def _stop_dev(dev: subprocess.Popen) -> None:
    # `dg dev` stops its webserver, daemon and code servers on SIGINT (it ignores SIGTERM without
    # a terminal); whatever is left of its process group is killed.
    dev.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        dev.wait(timeout=60)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(dev.pid, signal.SIGKILL)
    dev.wait(timeout=10)


def test_dg_dev_serves_the_project_at_the_repo_root_without_environment(project, tmp_path):
    env = _environment(tmp_path)
    dev, url = _start_dev(project, env, tmp_path / "dagster-dev.log")
    try:
        query = """{
          workspaceOrError { ... on Workspace { locationEntries {
            name locationOrLoadError { __typename ... on PythonError { message } } } } }
          instance { runQueueConfig { tagConcurrencyLimitsYaml } }
        }"""
        data = requests.post(f"{url}/graphql", json={"query": query}, timeout=60).json()["data"]
        (location,) = data["workspaceOrError"]["locationEntries"]
        assert location["name"] == "mlops_assets"
        assert location["locationOrLoadError"]["__typename"] == "RepositoryLocation", location
        limits = yaml.safe_load(data["instance"]["runQueueConfig"]["tagConcurrencyLimitsYaml"])
        assert CHAMPION_LIMIT in limits
        # The daemon's heartbeats are stored in the project's instance, not a temp one.
        assert (project / ".dagster_home" / "history" / "runs.db").is_file()
    finally:
        _stop_dev(dev)


def test_make_backfill_is_one_run_of_the_days_that_the_ui_daemon_runs(project, tmp_path):
    """The README's backfill, as written: with `make ui`'s webserver and daemon up (`dagster
    dev` at the repo root), `make backfill FROM=.. TO=..` launches the asset backfill the UI
    would, and the daemon runs the three days in one run, each day its own partition."""
    env = _environment(tmp_path)
    home = project / ".dagster_home"
    made = subprocess.run(
        ["make", "-s", f"{home}/dagster.yaml"], cwd=project, env=env, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    with_home = {**env, "DAGSTER_HOME": str(home)}
    trained = _dagster(
        project, with_home, "job", "execute", "-m", "mlops_assets.definitions", "-j", "training_job"
    )
    assert trained.returncode == 0, trained.stderr[-3000:]

    log = tmp_path / "dagster-dev.log"
    dev, url = _start_dev(project, with_home, log)
    try:
        # make finds the venv of this checkout; the copy has none, so it is named.
        backfill = subprocess.run(
            ["make", "-s", "backfill", "FROM=2026-01-02", "TO=2026-01-04", f"VENV={BIN.parent}"],
            cwd=project,
            env={**with_home, "MLOPS_DAGSTER_UI_URL": url},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert backfill.returncode == 0, backfill.stderr[-3000:] + backfill.stdout[-3000:]
        assert "3 days, one run" in backfill.stdout and f"{url}/runs/b/" in backfill.stdout
        with dg.DagsterInstance.from_config(str(home)) as instance:
            (requested,) = instance.get_backfills()
            assert backfill.stdout.startswith(f"backfill {requested.backfill_id}:")
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                requested = instance.get_backfill(requested.backfill_id)
                runs = instance.get_runs(dg.RunsFilter.for_backfill(requested.backfill_id))
                if requested.status != BulkActionStatus.REQUESTED and all(
                    r.is_finished for r in runs
                ):
                    break
                time.sleep(2)
            assert requested.status == BulkActionStatus.COMPLETED_SUCCESS, (
                requested.status,
                log.read_text()[-3000:],
            )
            (run,) = runs
            assert run.status == dg.DagsterRunStatus.SUCCESS, run.status
            # The daemon resolved the run's location: the one the workspace names.
            assert run.remote_job_origin.location_name == "mlops_assets"
            days = {"2026-01-02", "2026-01-03", "2026-01-04"}
            for asset in ("scoring_data", "batch_predictions", "drift_report"):
                materialized = instance.get_materialized_partitions(dg.AssetKey(asset))
                assert materialized == days, asset
    finally:
        _stop_dev(dev)


def test_make_backfill_without_a_webserver_says_to_start_the_ui(project, tmp_path):
    env = {**_environment(tmp_path), "MLOPS_DAGSTER_UI_URL": f"http://127.0.0.1:{_free_port()}"}
    backfill = subprocess.run(
        ["make", "-s", "backfill", "FROM=2026-01-02", "TO=2026-01-04", f"VENV={BIN.parent}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert backfill.returncode != 0
    assert "no Dagster webserver at" in backfill.stderr and "make ui" in backfill.stderr
