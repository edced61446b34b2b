"""A run killed together with its code server never blocks the queue: run monitoring in a real
`dagster-daemon` finds its worker gone, marks it failed naming the pid, and the next training
(queued behind it: one mlops/gate=champion run at a time) starts and succeeds. The instance is
the laptop's (the top-level dagster.yaml, as `make` copies it), in temp dirs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.domain.run_workers import parse_stat, read_stat

pytestmark = pytest.mark.slow  # a daemon, a code server and two trainings

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# docs/reliability.md: a dead run's slot is free within the monitoring interval (10 s) plus the
# queue's dequeue interval; the next run then needs a code server and its own start.
FAIL_BOUND_SECONDS = 30
RELEASE_BOUND_SECONDS = 120
LAUNCH = [
    str(BIN / "dagster"),
    "job",
    "launch",
    "-j",
    "training_job",
    "-m",
    "mlops_assets.definitions",
]
SMALL_TRAINING = "resources: {data_source: {config: {synthetic_rows: 1500}}}\n"


def _launch(env: dict[str, str], cwd: Path, config: Path) -> None:
    launched = subprocess.run(
        [*LAUNCH, "-c", str(config)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]


def _wait(what: str, seconds: float, probe):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {seconds:.0f} s")


def _ppid(pid: int) -> int:
    stat = read_stat(pid)
    assert stat is not None
    parse_stat(stat)  # a well-formed line
    return int(stat[stat.rindex(")") + 2 :].split()[1])


@pytest.mark.parametrize("with_code_server", [True, False], ids=["and-code-server", "worker-only"])
def test_a_killed_training_is_failed_and_the_next_one_runs(tmp_path, with_code_server):
    home = tmp_path / "dagster_home"
    made = subprocess.run(
        ["make", "-s", f"{home}/dagster.yaml", f"DAGSTER_HOME={home}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    config = tmp_path / "small.yaml"
    config.write_text(SMALL_TRAINING)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))},
        "DAGSTER_HOME": str(home),
        "MLOPS_HOME": str(tmp_path / "mlops"),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    # Queued before the daemon starts, as test_cli.py does: two processes creating a fresh SQLite
    # instance at once can collide.
    _launch(env, cwd, config)
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-m", "mlops_assets.definitions"],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    os.environ["DAGSTER_HOME"], saved = str(home), os.environ.get("DAGSTER_HOME")
    try:
        with dg.DagsterInstance.get() as instance:
            (first,) = instance.get_runs(dg.RunsFilter(job_name="training_job"))

            def first_step_pid() -> int | None:
                records = instance.get_records_for_run(
                    first.run_id, of_type=dg.DagsterEventType.STEP_START
                ).records
                return records[0].event_log_entry.dagster_event.pid if records else None

            # The worker is a process of the code server the daemon started: kill both, as a
            # container restart or the OOM killer would, while the run trains.
            worker = _wait("the first training's first step", 240, first_step_pid)
            server = _ppid(worker)
            assert b"grpc" in Path(f"/proc/{server}/cmdline").read_bytes()
            os.kill(worker, signal.SIGKILL)
            if with_code_server:
                os.kill(server, signal.SIGKILL)
            killed = time.time()
            _launch(env, cwd, config)

            def finished(run_id: str) -> dg.DagsterRun | None:
                run = instance.get_run_by_id(run_id)
                return run if run is not None and run.is_finished else None

            failed = _wait(
                "the killed run failed", FAIL_BOUND_SECONDS, lambda: finished(first.run_id)
            )
            assert failed.status == dg.DagsterRunStatus.FAILURE
            record = instance.get_run_record_by_id(first.run_id)
            assert record is not None and record.end_time is not None
            print(f"failed after {record.end_time - killed:.1f} s")  # the measured bounds, with -s
            assert record.end_time - killed < FAIL_BOUND_SECONDS
            messages = [
                failure.event_log_entry.dagster_event.message or ""
                for failure in instance.get_records_for_run(
                    first.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
                ).records
            ]
            if with_code_server:  # nobody else is left to tell: run monitoring names the pid
                assert any(f"pid {worker} on" in m and "NOT_FOUND" in m for m in messages), messages
            else:  # the code server saw its child die and says so itself
                assert messages, "no failure recorded"

            second = _wait(
                "the second training started",
                RELEASE_BOUND_SECONDS,
                lambda: [
                    r
                    for r in instance.get_run_records(dg.RunsFilter(job_name="training_job"))
                    if r.dagster_run.run_id != first.run_id and r.start_time
                ],
            )[0]
            released = second.start_time - killed
            print(f"released after {released:.1f} s")  # the measured bounds, with -s
            assert released < RELEASE_BOUND_SECONDS
            done = _wait("the second training", 300, lambda: finished(second.dagster_run.run_id))
            assert done.status == dg.DagsterRunStatus.SUCCESS
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
        log.close()
        if saved is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = saved
