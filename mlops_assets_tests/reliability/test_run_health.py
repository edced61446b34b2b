"""The pieces run monitoring relies on, on a real Dagster instance: the code location's executor
records the run's process, and the launcher the instances configure reports a worker dead only
when its process is gone. (test_dead_runs.py kills a real one under a real daemon.)"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml

from mlops_assets.domain.run_workers import ProcessIdentity, current_process
from mlops_assets.run_health import (
    RUN_WORKER_TAG,
    ProcessCheckingRunLauncher,
    in_process_executor,
)

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = {"module": "mlops_assets.run_health", "class": "ProcessCheckingRunLauncher"}


@dg.op
def work() -> int:
    return 1


@dg.job(executor_def=in_process_executor)
def tiny_job() -> None:
    work()


def test_a_run_records_its_worker_and_a_live_worker_is_running(tmp_path):
    with dg.instance_for_test(
        temp_dir=str(tmp_path), overrides={"run_launcher": LAUNCHER}
    ) as instance:
        result = dg.execute_job(dg.reconstructable(tiny_job), instance=instance)
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        assert run is not None
        worker = ProcessIdentity.from_tag(run.tags[RUN_WORKER_TAG])
        assert worker == current_process()  # execute_job runs the steps in this process

        launcher = instance.run_launcher
        assert isinstance(launcher, ProcessCheckingRunLauncher)
        assert launcher.supports_check_run_worker_health
        health = launcher.check_run_worker_health(run)
        assert health.status.value == "RUNNING", health


def test_a_gone_worker_is_not_found_naming_its_pid_and_an_unrecorded_one_is_left_alone(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    me = current_process()
    assert me is not None
    dead = dataclasses.replace(me, pid=child.pid)
    with dg.instance_for_test(
        temp_dir=str(tmp_path), overrides={"run_launcher": LAUNCHER}
    ) as instance:
        result = dg.execute_job(dg.reconstructable(tiny_job), instance=instance)
        instance.add_run_tags(result.run_id, {RUN_WORKER_TAG: dead.to_tag()})
        run = instance.get_run_by_id(result.run_id)
        assert run is not None
        health = instance.run_launcher.check_run_worker_health(run)
        assert health.status.value == "NOT_FOUND"
        assert f"pid {child.pid} on {me.host}" in (health.msg or "")
        assert "marked failed" in (health.msg or "")

        unrecorded = run.with_tags({k: v for k, v in run.tags.items() if k != RUN_WORKER_TAG})
        assert instance.run_launcher.check_run_worker_health(unrecorded).status.value == "RUNNING"


def test_every_instance_without_a_health_checking_launcher_of_its_own_uses_this_one():
    """The laptop and `make stack` instances use it with run monitoring on; the Docker instance's
    DockerRunLauncher checks its containers itself."""
    for config in ("dagster.yaml", "deploy/dagster.yaml"):
        instance = yaml.safe_load((REPO / config).read_text())
        assert instance["run_launcher"] == LAUNCHER, config
        assert instance["run_monitoring"]["enabled"] is True, config
    docker = yaml.safe_load((REPO / "docker/dagster.yaml").read_text())
    assert docker["run_monitoring"]["enabled"] is True
    assert os.path.basename(docker["run_launcher"]["module"]) == "dagster_docker"


def _started_run(instance: dg.DagsterInstance, worker: ProcessIdentity) -> str:
    run = instance.create_run_for_job(
        job_def=tiny_job,
        status=dg.DagsterRunStatus.STARTED,
        tags={"mlops/gate": "champion", RUN_WORKER_TAG: worker.to_tag()},
    )
    return run.run_id


def test_an_operator_fails_a_stuck_run_by_hand_but_never_one_whose_worker_runs(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    me = current_process()
    assert me is not None
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        stuck = _started_run(instance, dataclasses.replace(me, pid=child.pid))
        running = _started_run(instance, me)
        env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
        command = [sys.executable, "-m", "mlops_assets.run_health", "fail"]

        done = subprocess.run([*command, stuck], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "marked failed" in done.stdout
        refused = subprocess.run([*command, running], env=env, capture_output=True, text=True)
        assert refused.returncode == 1
        assert f"pid {me.pid} on {me.host}) is running" in refused.stderr

        assert instance.get_run_by_id(stuck).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(running).status == dg.DagsterRunStatus.STARTED
        (failure,) = instance.get_records_for_run(
            stuck, of_type=dg.DagsterEventType.RUN_FAILURE
        ).records
        assert (
            "Marked failed by hand (worker gone)" in failure.event_log_entry.dagster_event.message
        )
