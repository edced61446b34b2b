"""`make bench`: every performance claim as a ratio against a baseline run side by side on this
machine, written to bench/RESULTS.md. The test suite has no timed assertions; this is where
speed is measured.

    python bench/run_all.py [--quick] [--only SECTION ...] [--output PATH] [--max-wait SECONDS]

SECTION is one of load, day, backfill, training, drift, batch, batchshadow (batch scoring
with a challenger in shadow against the champion alone), sensor, monitoring, serving,
shadow (the serving service in shadow mode against the champion alone), estimators (NannyML
beside ours on real and synthetic tables; builds NannyML's environment and fetches plotnine's
wheel for its diamonds table into bench/.data on first use; about 10 minutes on its own on a
busy 2-CPU machine).

A full run (about 13 minutes of work on 2 CPUs before the estimators' real tables, after
waiting for the machine to be quiet: see `_wait_for_quiet`) writes bench/RESULTS.md; `--quick`
(smaller data, fewer repeats) and `--only` print their results and write a file only when
given `--output`.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from common import (
    HERE,
    INHERITED_DONT_WRITE_BYTECODE,
    PYCACHE,
    Section,
    Target,
    warm_bytecode_cache,
)

SECTIONS = (
    "load",
    "day",
    "backfill",
    "training",
    "drift",
    "batch",
    "batchshadow",
    "sensor",
    "monitoring",
    "serving",
    "shadow",
    "estimators",
)


def _runner(name: str) -> Callable[[bool], Section]:
    # Each module is imported only when its section runs: `--only load` stays light.
    if name == "load":
        import bench_load

        return bench_load.run
    if name == "day":
        import bench_day

        return bench_day.run
    if name == "backfill":
        import bench_backfill

        return bench_backfill.run
    if name == "training":
        import bench_training

        return bench_training.run
    if name == "drift":
        import bench_drift

        return bench_drift.run
    if name == "batch":
        import bench_batch_prediction

        return bench_batch_prediction.run
    if name == "serving":
        import bench_serving

        return bench_serving.run
    if name == "batchshadow":
        import bench_batch_shadow

        return bench_batch_shadow.run
    if name == "shadow":
        import bench_serving_shadow

        return bench_serving_shadow.run
    if name == "estimators":
        import bench_estimators

        return bench_estimators.run
    if name == "sensor":
        import bench_sensor

        return bench_sensor.run
    import bench_monitoring

    return bench_monitoring.run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller data")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run these sections only")
    parser.add_argument("--output", type=Path, help="where to write the results (Markdown)")
    parser.add_argument(
        "--max-wait",
        type=float,
        default=300.0,
        help="seconds to wait at most, before each section, for the load average to fall to "
        "the number of CPUs (default 300; on a machine that stays busy every section would "
        "wait that long)",
    )
    args = parser.parse_args()
    chosen = args.only or SECTIONS
    output = args.output
    if output is None and not args.quick and not args.only:
        output = HERE / "RESULTS.md"

    load_before = os.getloadavg()
    started = time.perf_counter()
    warm_bytecode_cache()
    sections = []
    for name in chosen:
        waited, load = _wait_for_quiet(args.max_wait)
        section_started = time.perf_counter()
        print(f"[bench] {name} (load {load:.1f}, waited {waited:.0f} s) ...", flush=True)
        section = _runner(name)(args.quick)
        seconds = time.perf_counter() - section_started
        note = (
            f"\n_This section took {seconds:.0f} s; the 1-minute load average was {load:.1f} "
            f"when it started (after waiting {waited:.0f} s for it to fall to {os.cpu_count()})"
            f" and {os.getloadavg()[0]:.1f} when it ended._\n"
        )
        sections.append(Section(section.text + note, section.targets))
        print(f"[bench] {name} done in {seconds:.0f} s", flush=True)
    minutes = (time.perf_counter() - started) / 60
    load_after = os.getloadavg()

    header = (
        "# Benchmark results\n\n"
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {minutes:.0f} minutes"
        + (" (`--quick`)" if args.quick else "")
        + "\n"
        f"- commit: {_commit()}\n"
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}; "
        f"load average (1 / 5 / 15 min) {_load(load_before)} at the start, "
        f"{_load(load_after)} at the end\n"
        f"- python {platform.python_version()}; dagster {version('dagster')}, "
        f"mlflow {version('mlflow')}, evidently {version('evidently')}, "
        f"scikit-learn {version('scikit-learn')}, pandas {version('pandas')}, "
        f"numpy {version('numpy')}, pyarrow {version('pyarrow')}\n"
        "- figures are min / median / max over repeats, each side run on this machine in this "
        "run, one after the other; ratios are of medians.\n"
        f"- bytecode is cached in `{PYCACHE.relative_to(HERE.parent)}` (`PYTHONPYCACHEPREFIX`) "
        "and warmed before any timing, as on an ordinary install"
        + (
            " (this environment set PYTHONDONTWRITEBYTECODE="
            f"{INHERITED_DONT_WRITE_BYTECODE}: without the cache every process compiles every "
            "module it imports)"
            if INHERITED_DONT_WRITE_BYTECODE
            else ""
        )
        + ".\n\n"
    )
    targets = [t for s in sections for t in s.targets]
    text = header + _targets_table(targets) + "\n" + "\n".join(s.text for s in sections)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    print(text)


def _wait_for_quiet(limit: float = 300.0) -> tuple[float, float]:
    """Wait (at most `limit` seconds) until the 1-minute load average is at most the number
    of CPUs: on a shared machine, other people's work would otherwise be measured too. Returns
    the seconds waited and the load average then."""
    started = time.perf_counter()
    cpus = os.cpu_count() or 1
    while os.getloadavg()[0] > cpus and time.perf_counter() - started < limit:
        time.sleep(10)
    return time.perf_counter() - started, os.getloadavg()[0]


def _commit() -> str:
    """The measured code: the commit, and whether the work tree held changes beyond it."""
    import subprocess

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=HERE.parent, capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown (no git)"
    changed = git("status", "--porcelain", "--untracked-files=no")
    return commit + (" with uncommitted changes" if changed else "")


def _load(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{v:.1f}" for v in values)


def _targets_table(targets: list[Target]) -> str:
    rows = [
        f"| {t.claim} | {t.target} | {t.measured} | {'met' if t.met else '**not met**'} |"
        for t in targets
    ]
    return (
        "## Targets\n\n| claim | target | measured | |\n| --- | --- | --- | --- |\n"
        + "\n".join(rows)
        + "\n"
    )


if __name__ == "__main__":
    main()
