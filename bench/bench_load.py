"""Code-location load: a fresh interpreter importing `mlops_assets.definitions` against one
importing `dagster` alone. The webserver, the daemon and every run (every step, under the
multiprocess executor) pay this.

A third line, `import dagster, pandas`, shows what pandas alone adds; the heavy packages the
code location imports besides dagster are listed with their own import time (`-X importtime`).

    python bench/bench_load.py [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable

from common import ROOT, Section, Target, fmt, median, timings

TARGET_RATIO = 1.5
# Both sides exit the same way: the code location freezes what is alive at exit so that the
# shutdown's full collection skips it (mlops_assets/process.py), so the baseline registers the
# same handler after its import; without it the baseline paid a collection that ours skipped.
SAME_EXIT = "import atexit, gc; atexit.register(gc.freeze)"
HEAVY = ("mlflow", "sklearn", "evidently", "scipy", "matplotlib", "pandera", "pandas", "pyarrow")
NEW_PACKAGES = (
    "import sys, dagster; before = set(sys.modules); import mlops_assets.definitions; "
    "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
)


def run(quick: bool) -> Section:
    repeats = 3 if quick else 7
    ours = timings(_fresh("import mlops_assets.definitions"), repeats)
    base = timings(_fresh(f"import dagster; {SAME_EXIT}"), repeats)
    with_pandas = timings(_fresh(f"import dagster, pandas; {SAME_EXIT}"), repeats)
    ratio = median(ours) / median(base)
    added = _python("-c", NEW_PACKAGES).split()
    heavy = [m for m in HEAVY if m in added]
    costs = _import_costs(heavy)
    text = (
        "## Code-location load\n\n"
        f"Wall time of a fresh interpreter, min / median / max over {repeats} runs (s).\n\n"
        "| what | seconds |\n| --- | --- |\n"
        f"| `import mlops_assets.definitions` | {fmt(ours)} |\n"
        f"| `import dagster` (baseline, exiting as the code location does) | {fmt(base)} |\n"
        f"| `import dagster, pandas` (for reference, same exit) | {fmt(with_pandas)} |\n\n"
        f"Ratio (median): **{ratio:.2f}x** (target < {TARGET_RATIO}x). mlflow, sklearn or "
        f"evidently imported at load: {[m for m in heavy if m in HEAVY[:3]] or 'none'}. "
        "Heavy packages imported at load beyond dagster, with their cumulative import time "
        "after dagster (`-X importtime`): "
        + (", ".join(f"{m} {costs.get(m, 0.0):.2f} s" for m in heavy) or "none")
        + ".\n"
    )
    target = Target(
        claim="code-location load, `import mlops_assets.definitions` / `import dagster`",
        target=f"< {TARGET_RATIO}x, no mlflow / evidently / sklearn",
        measured=f"{ratio:.2f}x, " + (", ".join(heavy) or "nothing heavy") + " at load",
        met=ratio < TARGET_RATIO and not set(heavy) & set(HEAVY[:3]),
    )
    return Section(text, (target,))


def _fresh(statement: str) -> Callable[[], object]:
    return lambda: _python("-c", statement)


def _python(*args: str) -> str:
    return subprocess.run(
        [sys.executable, *args], check=True, cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()


def _import_costs(packages: list[str]) -> dict[str, float]:
    """Cumulative import time of each top-level package when imported after dagster."""
    report = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import dagster; import mlops_assets.definitions",
        ],
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
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    print(run(quick=parser.parse_args().quick).text)
