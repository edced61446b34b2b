"""A backfill as a user starts it, through the daemon, against the same days in one process
(issue 16).

- ours: `make backfill`'s request (mlops_assets/tools/backfills.py: the asset backfill the UI's
  "Materialize" on a partition range launches) to a `dagster-webserver`, at the instance `make`
  makes (the laptop dagster.yaml), run by a `dagster-daemon run` that was started beforehand
  and is up, as `make ui`'s are. With BackfillPolicy.single_run() that is one run for the
  range. Timed from the request to the end of its runs, every (asset, day) materialised; every
  run must succeed.
- the floor: the same job for the same days in one warm Python process
  (`execute_in_process`, one day untimed first), in the same MLOPS_HOME after the same
  `training_job`: what the days cost without a process, a code-location load and a Dagster
  instance per run.

The built-in data (1000 rows a day), all days clean (the drift starts after them), so no day
draws evidently's report. The sensors and the schedule are off (their defaults).

    python bench/bench_backfill.py [--quick | --days N]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from common import (
    ROOT,
    Section,
    Target,
    clean_env,
    free_port,
    project_env,
    run_checked,
    wait_for_http,
)

TARGET_RATIO = 2.0  # the daemon backfill / the same days in one process
JOB = "daily_monitoring_job"
FIRST_DAY = date(2026, 1, 2)  # the built-in calendar's default start, as bench_day has it
BIN = Path(sys.executable).parent


def run(quick: bool, days: int | None = None) -> Section:
    days = days or (10 if quick else 60)
    last_day = FIRST_DAY + timedelta(days=days - 1)
    with tempfile.TemporaryDirectory(prefix="mlops-bench-backfill-") as tmp:
        dagster_home = Path(tmp) / "dagster_home"
        run_checked(["make", "-s", f"{dagster_home}/dagster.yaml", f"DAGSTER_HOME={dagster_home}"])
        env = {
            **clean_env(Path(tmp) / "mlops", dagster_home),
            "MLOPS_DRIFT_START": (last_day + timedelta(days=30)).isoformat(),
        }
        cwd = Path(tmp) / "cwd"
        cwd.mkdir()
        module = ["-m", "mlops_assets.definitions"]
        run_checked(
            [str(BIN / "dagster"), "job", "execute", *module, "-j", "training_job"], env, cwd
        )

        in_process, assets = _in_process_seconds(env, Path(tmp) / "in_process", days)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        servers = [
            subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            for command in (
                [str(BIN / "dagster-daemon"), "run", *module],
                [str(BIN / "dagster-webserver"), *module, "-h", "127.0.0.1", "-p", str(port)],
            )
        ]
        try:
            _wait_for_daemon(dagster_home)
            wait_for_http(f"{url}/server_info", "dagster-webserver")
            from mlops_assets.tools.backfills import days_between, launch_backfill

            started, submitted = time.perf_counter(), time.time()
            backfill_id = launch_backfill(url, assets, days_between(FIRST_DAY, last_day))
            runs = _wait_for_backfill(dagster_home, backfill_id, assets, days)
            backfill = time.perf_counter() - started
        finally:
            for server in servers:
                os.killpg(server.pid, signal.SIGTERM)
            for server in servers:
                server.wait(timeout=60)
    ratio = backfill / in_process
    per_run = sorted(r.end_time - r.start_time for r in runs)
    first_start = min(r.start_time for r in runs) - submitted
    busy = sum(per_run) / backfill  # runs in progress at once, on average
    text = (
        f"## A {days}-day backfill through the daemon (built-in data, 1000 rows a day)\n\n"
        f"`make backfill FROM={FIRST_DAY} TO={last_day}`'s request (the UI's asset backfill) "
        "to a running `dagster-webserver`, on the laptop instance, run by a running "
        f"`dagster-daemon`: {len(runs)} run(s), every one succeeded, every day of every asset "
        "materialised. Against it, the same job for the same days in one warm process.\n\n"
        "| what | seconds |\n| --- | --- |\n"
        f"| the backfill, from the request to the end of its last run | {backfill:.1f} |\n"
        f"| its runs, start to end (min / max) | {per_run[0]:.1f} / {per_run[-1]:.1f} |\n"
        f"| from the request to the first run's start (the daemon's backfill loop polls) | "
        f"{first_start:.1f} |\n"
        f"| the same {days} days in one process | {in_process:.1f} |\n\n"
        f"Runs in progress at once, on average: {busy:.1f}. "
        f"Backfill / one process: **{ratio:.1f}x** (target < {TARGET_RATIO}x).\n"
    )
    target = Target(
        claim=f"a {days}-day backfill through the daemon / the same days in one process",
        target=f"< {TARGET_RATIO}x",
        measured=f"{ratio:.1f}x ({backfill:.0f} s against {in_process:.0f} s)",
        met=ratio < TARGET_RATIO,
    )
    return Section(text, (target,))


def _in_process_seconds(
    env: dict[str, str], instance_dir: Path, days: int
) -> tuple[float, list[str]]:
    """Seconds of the job for `days` days in this process, one run a day, after one untimed
    day; the assets the job materialises."""
    import dagster as dg

    from mlops_assets.definitions import build_resources, defs

    instance_dir.mkdir()
    with (
        project_env(Path(env["MLOPS_HOME"])),
        dg.instance_for_test(temp_dir=str(instance_dir)) as instance,
    ):
        # Read by the resources, which are built here (the partitions were fixed at import).
        os.environ["MLOPS_DRIFT_START"] = env["MLOPS_DRIFT_START"]
        job = defs.resolve_job_def(JOB)
        resources = build_resources()

        def day(d: int) -> None:
            key = (FIRST_DAY + timedelta(days=d)).isoformat()
            result = job.execute_in_process(
                partition_key=key, instance=instance, resources=resources, raise_on_error=False
            )
            if not result.success:
                raise RuntimeError(f"{JOB} failed in process for {key}")

        day(0)
        started = time.perf_counter()
        for d in range(days):
            day(d)
        seconds = time.perf_counter() - started
        return seconds, [key.to_user_string() for key in job.asset_layer.selected_asset_keys]


def _instance(dagster_home: Path):
    import dagster as dg

    return dg.DagsterInstance.from_config(str(dagster_home))


def _wait_for_daemon(dagster_home: Path, timeout: float = 120) -> None:
    """Until the daemon's run queue has sent a heartbeat: it is up and draining."""
    instance = _instance(dagster_home)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "QUEUED_RUN_COORDINATOR" in instance.get_daemon_heartbeats():
            return
        time.sleep(0.5)
    raise RuntimeError("dagster-daemon sent no heartbeat in two minutes")


def _wait_for_backfill(
    dagster_home: Path, backfill_id: str, assets: list[str], days: int, timeout: float = 3600
) -> list:
    """Until the backfill's runs have finished and every day of every asset is materialised;
    the runs' records. A failed run raises."""
    import dagster as dg

    instance = _instance(dagster_home)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = instance.get_run_records(dg.RunsFilter.for_backfill(backfill_id))
        failed = [r for r in records if r.dagster_run.status == dg.DagsterRunStatus.FAILURE]
        if failed:
            raise RuntimeError(f"backfill run {failed[0].dagster_run.run_id} failed")
        done = records and all(r.dagster_run.is_finished for r in records)
        if done and all(
            len(instance.get_materialized_partitions(dg.AssetKey(a))) >= days for a in assets
        ):
            return records
        time.sleep(0.5)
    raise RuntimeError(f"backfill {backfill_id} did not finish in {timeout:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10 days instead of 60")
    parser.add_argument("--days", type=int, help="this many days instead")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    print(run(quick=args.quick, days=args.days).text)
