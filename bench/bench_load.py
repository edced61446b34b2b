"""Code-location load: a fresh interpreter importing `mlops_assets.definitions` against one
importing `dagster` alone. The webserver, the daemon and every run (every step, under the
multiprocess executor) pay this.

Both sides of a pair leave the interpreter the same way, and the pairs take turns (ours, the
baseline, ours, ...) so that a change in the shared machine's load falls on both alike:

- `os._exit(0)` right after the import (the target): the load alone, no exit work on either
  side;
- as deployed: the code location freezes what is alive at exit so that the shutdown's full
  collection skips it (mlops_assets/process.py); the baseline registers the same handler after
  its import, or it would pay a collection ours skips.

Each figure is a fresh process's wall time and its CPU time (user + system, from the kernel's
accounting of the child); the ratio is the median of the per-turn ratios. The heavy packages
the code location imports besides dagster are listed with their own import time
(`-X importtime`).

    python bench/bench_load.py [--quick]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time

from common import ROOT, Section, Target, fmt

TARGET_RATIO = 1.5
OURS = "import mlops_assets.definitions"
BASELINE = "import dagster"
# (name, what ours runs, what the baseline runs): the same exit on both sides.
EXITS = (
    ("os._exit", f"{OURS}, os; os._exit(0)", f"{BASELINE}, os; os._exit(0)"),
    (
        "as deployed (gc.freeze at exit)",
        OURS,
        f"{BASELINE}; import atexit, gc; atexit.register(gc.freeze)",
    ),
)
HEAVY = ("mlflow", "sklearn", "evidently", "scipy", "matplotlib", "pandera", "pandas", "pyarrow")
NEW_PACKAGES = (
    "import sys, dagster; before = set(sys.modules); import mlops_assets.definitions; "
    "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
)


def run(quick: bool) -> Section:
    repeats = 3 if quick else 9
    rows, ratios = [], {}
    for name, ours, baseline in EXITS:
        measured = _in_turns(ours, baseline, repeats)
        wall = [o[0] / b[0] for o, b in zip(measured["ours"], measured["baseline"], strict=True)]
        cpu = [o[1] / b[1] for o, b in zip(measured["ours"], measured["baseline"], strict=True)]
        ratios[name] = (statistics.median(wall), statistics.median(cpu))
        for side, statement in (("ours", ours), ("baseline", baseline)):
            walls = [w for w, _ in measured[side]]
            cpus = [c for _, c in measured[side]]
            rows.append(f"| {name} | `{statement}` | {fmt(walls)} | {fmt(cpus)} |")
        rows.append(
            f"| {name} | **ratio** (median of the turns) | **{ratios[name][0]:.2f}x** | "
            f"**{ratios[name][1]:.2f}x** |"
        )
    added = _python("-c", NEW_PACKAGES).split()
    heavy = [m for m in HEAVY if m in added]
    costs = _import_costs(heavy)
    target_wall, target_cpu = ratios[EXITS[0][0]]
    text = (
        "## Code-location load\n\n"
        f"A fresh interpreter, min / median / max over {repeats} turns (s); both sides of a "
        "pair exit the same way and take turns.\n\n"
        "| exit | what | wall s | CPU s |\n| --- | --- | --- | --- |\n"
        + "\n".join(rows)
        + f"\n\nTarget (`os._exit` on both sides, the load alone): **{target_wall:.2f}x** wall, "
        f"{target_cpu:.2f}x CPU (target <= {TARGET_RATIO}x). mlflow, sklearn or evidently "
        f"imported at load: {[m for m in heavy if m in HEAVY[:3]] or 'none'}. Heavy packages "
        "imported at load beyond dagster, with their cumulative import time after dagster "
        "(`-X importtime`): "
        + (", ".join(f"{m} {costs.get(m, 0.0):.2f} s" for m in heavy) or "none")
        + ".\n"
    )
    target = Target(
        claim="code-location load, `import mlops_assets.definitions` / `import dagster`, "
        "both exiting with `os._exit`",
        target=f"<= {TARGET_RATIO}x, no mlflow / evidently / sklearn",
        measured=f"{target_wall:.2f}x wall ({target_cpu:.2f}x CPU), "
        + (", ".join(heavy) or "nothing heavy")
        + " at load",
        met=target_wall <= TARGET_RATIO and not set(heavy) & set(HEAVY[:3]),
    )
    return Section(text, (target,))


def _in_turns(ours: str, baseline: str, repeats: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds of each statement in a fresh interpreter, one of each per turn,
    after one unrecorded turn (the page cache)."""
    out: dict[str, list[tuple[float, float]]] = {"ours": [], "baseline": []}
    for turn in range(repeats + 1):
        for side, statement in (("ours", ours), ("baseline", baseline)):
            measured = _timed(statement)
            if turn:
                out[side].append(measured)
    return out


def _timed(statement: str) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    _python("-c", statement)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _python(*args: str) -> str:
    return subprocess.run(
        [sys.executable, *args], check=True, cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()


def _import_costs(packages: list[str]) -> dict[str, float]:
    """Cumulative import time of each top-level package when imported after dagster."""
    report = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import dagster; {OURS}"],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stderr
    costs: dict[str, float] = {}
    for line in report.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].strip()
        if name in packages:
            costs[name] = costs.get(name, 0.0) + int(parts[1]) / 1e6
    return costs


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer turns")
    print(run(quick=parser.parse_args().quick).text)
