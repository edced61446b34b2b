"""The `dagster` CLI is part of the product: train with `dagster job execute`, then backfill a
date range of the daily partitions with `dagster job backfill`, as a user would from a shell."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).with_name("dagster"))


def _dagster(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DAGSTER, *args, "-m", "mlops_assets.definitions"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_trains_then_backfills_a_date_range(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "config" / "dagster.local.yaml", home / "dagster.yaml")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))},
        "DAGSTER_HOME": str(home),
        "MLOPS_HOME": str(tmp_path / "mlops"),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }

    trained = _dagster(["job", "execute", "-j", "training_job"], env)
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
    )
    assert backfill.returncode == 0, backfill.stderr[-3000:]

    # The backfill's runs are queued; the daemon (which `make ui` also starts) launches them.
    daemon = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-daemon")),
            "run",
            "-m",
            "mlops_assets.definitions",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.environ["DAGSTER_HOME"], saved = str(home), os.environ.get("DAGSTER_HOME")
    try:
        with dg.DagsterInstance.get() as instance:
            (request,) = instance.get_backfills()
            assert request.partition_names == ["2026-01-02", "2026-01-03"]
            runs = _wait_for_runs(instance, "daily_monitoring_job", count=2)
            assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
            assert {r.tags["dagster/partition"] for r in runs} == {"2026-01-02", "2026-01-03"}
            scored = instance.get_materialized_partitions(dg.AssetKey("batch_predictions"))
            assert scored == {"2026-01-02", "2026-01-03"}
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
        if saved is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = saved


def _wait_for_runs(instance: dg.DagsterInstance, job: str, count: int) -> list[dg.DagsterRun]:
    """The backfill launches runs in their own processes; wait until they have finished."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        runs = instance.get_runs(dg.RunsFilter(job_name=job))
        if len(runs) == count and all(r.is_finished for r in runs):
            return runs
        time.sleep(1)
    raise AssertionError(f"{job}: runs did not finish: {[r.status for r in runs]}")
