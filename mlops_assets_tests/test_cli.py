"""The `dagster` CLI is part of the product: train with `dagster job execute`, then backfill a
date range of the daily partitions with `dagster job backfill` and queue runs with `dagster job
launch`, as a user would from a shell."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

# Each test runs the dagster CLI (and a daemon) in subprocesses.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).with_name("dagster"))


def _dagster(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DAGSTER, *args, "-m", "mlops_assets.definitions"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_trains_backfills_and_queues_one_champion_run_at_a_time(tmp_path):
    # The instance `make` makes: the laptop dagster.yaml in DAGSTER_HOME, its paths made absolute
    # there by the Makefile's own rule. Commands start in another directory, which stays empty.
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
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))},
        "DAGSTER_HOME": str(home),
        "MLOPS_HOME": str(tmp_path / "mlops"),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }

    trained = _dagster(["job", "execute", "-j", "training_job"], env, cwd)
    assert trained.returncode == 0, trained.stderr[-3000:]

    backfill = _dagster(
        [
            "job",
            "backfill",
            "-j",
            "daily_monitoring_job",
            "--from",
            "2026-01-02",
            "--to",
            "2026-01-03",
            "--noprompt",
        ],
        env,
        cwd,
    )
    assert backfill.returncode == 0, backfill.stderr[-3000:]

    # Two runs that may move the champion, queued together: the queue must hold the rollback
    # until the retraining has finished (mlops/gate=champion, limit 1), though it would run
    # in a second beside it otherwise.
    (tmp_path / "rollback.yaml").write_text(
        "ops: {rollback_champion: {config: {reason: queue test}}}\n"
    )
    rollback_config = str(tmp_path / "rollback.yaml")
    for launch in (["retraining_job"], ["rollback_champion_job", "-c", rollback_config]):
        launched = _dagster(["job", "launch", "-j", *launch], env, cwd)
        assert launched.returncode == 0, launched.stderr[-3000:]

    # The queued runs wait for the daemon (which `make ui` also starts).
    daemon = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-daemon")),
            "run",
            "-m",
            "mlops_assets.definitions",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.environ["DAGSTER_HOME"], saved = str(home), os.environ.get("DAGSTER_HOME")
    try:
        with dg.DagsterInstance.get() as instance:
            # The training job's default executor runs every step in the run's own process
            # (the executor in definitions.py): one pid, not one per step.
            (training,) = instance.get_runs(dg.RunsFilter(job_name="training_job"))
            starts = instance.get_records_for_run(
                training.run_id, of_type=dg.DagsterEventType.STEP_START
            ).records
            assert len(starts) == 5
            assert len({r.event_log_entry.dagster_event.pid for r in starts}) == 1
            (request,) = instance.get_backfills()
            assert request.partition_names == ["2026-01-02", "2026-01-03"]
            runs = _wait_for_runs(instance, "daily_monitoring_job", count=2)
            assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
            assert {r.tags["dagster/partition"] for r in runs} == {"2026-01-02", "2026-01-03"}
            scored = instance.get_materialized_partitions(dg.AssetKey("batch_predictions"))
            assert scored == {"2026-01-02", "2026-01-03"}

            (retraining,) = _wait_for_runs(instance, "retraining_job", count=1)
            (rollback,) = _wait_for_runs(instance, "rollback_champion_job", count=1)
            assert retraining.status == dg.DagsterRunStatus.SUCCESS
            # The same data again is no better: v2 is not promoted, so v1 is the only version
            # that was ever champion and the rollback refuses, saying so.
            assert rollback.status == dg.DagsterRunStatus.FAILURE
            (failed,) = instance.get_records_for_run(
                rollback.run_id, of_type=dg.DagsterEventType.STEP_FAILURE
            ).records
            error = failed.event_log_entry.dagster_event.step_failure_data.error
            assert "is the only version that was ever champion" in error.message
            first = instance.get_run_record_by_id(retraining.run_id)
            second = instance.get_run_record_by_id(rollback.run_id)
            assert second.start_time >= first.end_time, "the queue let both run at once"
        # Every run's records are in DAGSTER_HOME, wherever the commands started.
        assert (home / "history" / "runs.db").is_file()
        assert list(cwd.iterdir()) == []
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
        if saved is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = saved


def _wait_for_runs(instance: dg.DagsterInstance, job: str, count: int) -> list[dg.DagsterRun]:
    """The backfill launches runs in their own processes; wait until they have finished (two
    monitoring runs side by side take over 3 minutes on 2 busy cores)."""
    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        runs = instance.get_runs(dg.RunsFilter(job_name=job))
        if len(runs) == count and all(r.is_finished for r in runs):
            return runs
        time.sleep(1)
    raise AssertionError(f"{job}: runs did not finish: {[r.status for r in runs]}")
