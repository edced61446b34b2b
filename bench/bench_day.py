"""One monitoring day as a run: every scheduled day and every backfilled partition is a run in
a fresh process (issue 16).

- ours, through the CLI: `dagster asset materialize -m mlops_assets.definitions --select
  scoring_data,batch_predictions,drift_report --partition <day>`, built-in data (1000 rows a
  day), after `training_job` trained the champion in the same homes; clean days (severity none:
  evidently's report is not drawn) and, for reference, one critical day (it is drawn).
- ours again with an MLflow tracking server (`mlflow server` on the same SQLite store, started
  once beforehand), as the production deployment runs: the run talks to MLflow over HTTP and
  never builds MLflow's SQL store itself. The artefacts stay local files (the experiment's
  location), which the run reads directly.
- the baseline: a fresh interpreter importing what scoring needs, `import dagster, pandas,
  pyarrow.parquet, sklearn.ensemble, mlflow.pyfunc` (the issue's bare-import baseline).
- the same three assets for one day in one warm process (`dg.materialize`, the first day
  untimed): what a day costs in a loop, against the same day as a run of its own. A real
  backfill through the daemon is measured in `bench_backfill.py`.

    python bench/bench_day.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import (
    Section,
    Target,
    clean_env,
    fmt,
    free_port,
    interleaved,
    median,
    project_env,
    run_checked,
    wait_for_http,
)

TARGET_RATIO = 1.5  # one CLI day / the bare imports
DAGSTER = str(Path(sys.executable).with_name("dagster"))
MLFLOW = str(Path(sys.executable).with_name("mlflow"))
ASSETS = "scoring_data,batch_predictions,drift_report"
BASELINE = "import dagster, pandas, pyarrow.parquet, sklearn.ensemble, mlflow.pyfunc"
CLEAN_DAYS = ("2026-01-03", "2026-01-04", "2026-01-05", "2026-01-06", "2026-01-07")
CRITICAL_DAY = "2026-01-10"  # the built-in generator drifts from 2026-01-09


def run(quick: bool) -> Section:
    repeats = 3 if quick else 5
    with tempfile.TemporaryDirectory(prefix="mlops-bench-day-") as tmp:
        dagster_home = Path(tmp) / "dagster_home"
        dagster_home.mkdir()
        (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        home = Path(tmp) / "mlops"
        env = clean_env(home, dagster_home)
        run_checked(
            [DAGSTER, "job", "execute", "-m", "mlops_assets.definitions", "-j", "training_job"], env
        )
        days = iter(CLEAN_DAYS * repeats)

        def cli_day(day: str | None = None, run_env: dict[str, str] = env) -> None:
            args = ["asset", "materialize", "-m", "mlops_assets.definitions", "--select", ASSETS]
            run_checked([DAGSTER, *args, "--partition", day or next(days)], run_env)

        def baseline() -> None:
            run_checked([sys.executable, "-c", BASELINE], env)

        port = free_port()
        store = f"sqlite:///{home / 'mlflow.db'}"
        server = subprocess.Popen(
            [
                *(MLFLOW, "server", "--backend-store-uri", store),
                *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            ],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_http(f"{url}/health", "mlflow server", 120)
            server_env = {**env, "MLFLOW_TRACKING_URI": url}
            sides = interleaved(
                {
                    "cli": cli_day,
                    "cli_server": lambda: cli_day(run_env=server_env),
                    "baseline": baseline,
                },
                repeats,
            )
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
        critical = _seconds(lambda: cli_day(CRITICAL_DAY))
        in_process = _in_process_days(home, Path(tmp) / "in_process", repeats)
    cli, cli_server, base = sides["cli"], sides["cli_server"], sides["baseline"]
    ratio = median(cli) / median(base)
    server_ratio = median(cli_server) / median(base)
    backfill = median(cli) / median(in_process)
    text = (
        "## One monitoring day as a run (built-in data, 1000 rows a day)\n\n"
        f"Wall seconds, min / median / max over {repeats} runs (the CLI and the baseline take "
        "turns). The CLI materialises `scoring_data`, `batch_predictions` and `drift_report` "
        "for a clean day in a fresh process, with the champion trained beforehand.\n\n"
        "| what | seconds |\n| --- | --- |\n"
        f"| `dagster asset materialize --select {ASSETS} --partition <clean day>` | {fmt(cli)} |\n"
        f"| the same with an MLflow tracking server | {fmt(cli_server)} |\n"
        f"| the same, a critical day ({CRITICAL_DAY}, evidently's report drawn), once | "
        f"{critical:.2f} |\n"
        f'| `python -c "{BASELINE}"` (baseline) | {fmt(base)} |\n'
        f"| the same three assets for a clean day in one warm process | {fmt(in_process)} |\n\n"
        f"CLI day / bare imports (median): **{ratio:.2f}x** (target < {TARGET_RATIO}x); with "
        f"a tracking server {server_ratio:.2f}x. "
        f"A day in its own run / a day in one process: {backfill:.1f}x (a real backfill "
        "through the daemon is the `backfill` section).\n"
    )
    targets = (
        Target(
            claim="one monitoring day through the CLI / bare imports of what scoring needs",
            target=f"< {TARGET_RATIO}x",
            measured=f"{ratio:.2f}x ({median(cli):.1f} s against {median(base):.1f} s); "
            f"{server_ratio:.2f}x with an MLflow tracking server",
            met=ratio < TARGET_RATIO,
        ),
    )
    return Section(text, targets)


def _in_process_days(home: Path, instance_dir: Path, repeats: int) -> list[float]:
    """Seconds of each clean day's three assets in this process, after one untimed day."""
    import dagster as dg

    from mlops_assets.definitions import ASSETS as ALL_ASSETS, build_resources

    instance_dir.mkdir()
    out = []
    with project_env(home), dg.instance_for_test(temp_dir=str(instance_dir)) as instance:
        resources = build_resources()
        for i, day in enumerate((CRITICAL_DAY, *CLEAN_DAYS[:repeats])):
            started = time.perf_counter()
            result = dg.materialize(
                ALL_ASSETS,
                selection=ASSETS.split(","),
                partition_key=day,
                instance=instance,
                resources=resources,
            )
            if not result.success:
                raise RuntimeError(f"materialize {day} failed")
            if i:
                out.append(time.perf_counter() - started)
    return out


def _seconds(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    print(run(quick=parser.parse_args().quick).text)
