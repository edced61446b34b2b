"""What every benchmark module shares: timing, the min / median / max format, the targets a
section checks, a project environment of its own (MLOPS_HOME, no inherited MLflow URI), peak
memory, and child processes that report JSON."""

from __future__ import annotations

import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / ".data"  # generated inputs and the bytecode cache, gitignored
PYCACHE = DATA / "pycache"
for _path in (str(ROOT), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)


def use_bytecode_cache() -> None:
    """Let this process and its children cache bytecode, in bench/.data/pycache.

    An ordinary install caches the bytecode of every module it imports; an environment with
    PYTHONDONTWRITEBYTECODE=1 and no cache compiles every imported module from source in every
    process, which would be measured as load time (seconds per process here). A prefix keeps
    the cache out of the virtual environment and the source tree.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    sys.dont_write_bytecode = False
    sys.pycache_prefix = str(PYCACHE)


# What the environment said before use_bytecode_cache() changed it, for RESULTS.md.
INHERITED_DONT_WRITE_BYTECODE = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
use_bytecode_cache()

# Imported once before anything is timed, so that the bytecode cache holds them.
WARM_UP = (
    "import mlops_assets.definitions, mlflow, mlflow.sklearn, sklearn.ensemble, skops.io, "
    "scipy.stats, matplotlib.pyplot, pyarrow.parquet, dagster._cli; "
    "from mlops_assets.domain.evidently_report import import_evidently; import_evidently()"
)


def warm_bytecode_cache() -> None:
    """Import the heavy packages once in a child process, filling the bytecode cache."""
    run_checked([sys.executable, "-c", WARM_UP])


@dataclass(frozen=True)
class Target:
    """One claim of the issue: what it promises and what this run measured."""

    claim: str
    target: str
    measured: str
    met: bool


@dataclass(frozen=True)
class Section:
    """A section of RESULTS.md and the targets it checked."""

    text: str
    targets: tuple[Target, ...] = ()


def timings(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each function over `repeats` rounds, one call of each per round, so that a
    change in the machine's load falls on every side alike."""
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            started = time.perf_counter()
            fn()
            out[name].append(time.perf_counter() - started)
    return out


def fmt(values: Sequence[float], digits: int = 3) -> str:
    """min / median / max."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low:.{digits}f} / {mid:.{digits}f} / {high:.{digits}f}"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def clean_env(home: Path, dagster_home: Path | None = None) -> dict[str, str]:
    """This environment without any MLOPS_* or MLFLOW_* setting (a developer's shell may point
    at their own store), pointed at `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))}
    env.update(
        MLOPS_HOME=str(home),
        MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false",
        DAGSTER_DISABLE_TELEMETRY="1",
        MLFLOW_DISABLE_TELEMETRY="true",
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
    )
    if dagster_home is not None:
        env["DAGSTER_HOME"] = str(dagster_home)
    return env


@contextmanager
def project_env(home: Path) -> Iterator[None]:
    """This process's environment set to `clean_env(home)` for the block, then restored."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(clean_env(home))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_training_job(home: Path) -> None:
    """`training_job` in this process, in a fresh MLflow store under `home` and a fresh Dagster
    instance beside it, as the tests do."""
    import dagster as dg

    from mlops_assets.definitions import build_resources, defs

    (home / "dagster").mkdir(parents=True, exist_ok=True)
    with project_env(home), dg.instance_for_test(temp_dir=str(home / "dagster")) as instance:
        result = defs.resolve_job_def("training_job").execute_in_process(
            instance=instance, resources=build_resources(), raise_on_error=True
        )
    if not result.success:
        raise RuntimeError("training_job failed")


def peak_rss_bytes() -> int:
    """This process's peak resident set size (VmHWM)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_bytes() -> int:
    """This process's current resident set size (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def run_child(args: Sequence[str], env: dict[str, str], timeout: float = 1800) -> dict[str, Any]:
    """Run `python <args>`; its last line of stdout is a JSON object, returned."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_checked(args: Sequence[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> None:
    """Run a command; on failure, raise with the end of its stderr."""
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-4000:]}")


def gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, what: str, timeout: float = 300) -> None:
    """Return once `url` answers 200; raise naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not answer {url} in {timeout:.0f} s")
