"""What `make demo` clears and `make clean` removes: the project's own state in the MLOPS_HOME and
DAGSTER_HOME they use, and nothing else.

Only the names the project (or Dagster, for the project's instance) creates there are removed:
a directory shared with a user's own files keeps them, and a path a data variable points at
(MLOPS_TRAINING_DATA, MLOPS_SCORING_DATA, MLOPS_LABELS_DATA, MLOPS_SERVE_LOG_DIR) is never
removed, nor anything holding one. The standard library only: `make clean` runs this with the
system python3, before or without a virtual environment.

    python -m mlops_assets.tools.project_state reset   # `make demo`: a clean slate for the story
    python -m mlops_assets.tools.project_state clean   # `make clean`: also make's dagster.yaml copy
                                                 # and `make serve`'s request log
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

# Written by the package below MLOPS_HOME: the embedded MLflow store (SQLite and artefacts),
# the IO managers' files, the snapshots' schemas and splits, quarantine, reports, locks, the
# demo's label feed and the built-in calendar.
MLOPS_STATE = (
    "mlflow.db",
    "mlflow.db-journal",
    "mlflow.db-wal",
    "mlflow.db-shm",
    "mlartifacts",
    "artifact_cache",
    "assets",
    "run_outputs",
    "schemas",
    "splits",
    "quarantine",
    "reports",
    "locks",
    "labels",
    "builtin_calendar.json",
)
# `make serve`'s request log: online traffic, not the demo's story; `make clean` only.
SERVING_STATE = ("requests",)
# What Dagster keeps in its home for the instance: runs and event logs, tick history,
# schedules and sensors' state, and its queues.
DAGSTER_STATE = ("storage", "history", "schedules", ".logs_queue", ".telemetry", ".nux")
# make's copy of the top-level dagster.yaml (Makefile: $(DAGSTER_HOME)/dagster.yaml).
MADE_BY_MAKE = "dagster.yaml"
DATA_VARIABLES = (
    "MLOPS_TRAINING_DATA",
    "MLOPS_SCORING_DATA",
    "MLOPS_LABELS_DATA",
    "MLOPS_SERVE_LOG_DIR",
)


def state_paths(mlops_home: Path, dagster_home: Path, everything: bool) -> list[Path]:
    """The project's state entries in the two homes (present or not)."""
    names = MLOPS_STATE + (SERVING_STATE if everything else ())
    return [mlops_home / name for name in names] + [dagster_home / name for name in DAGSTER_STATE]


def clear_state(
    mlops_home: Path,
    dagster_home: Path,
    *,
    everything: bool,
    env: Mapping[str, str],
    repo_dagster_yaml: Path | None = None,
) -> tuple[list[Path], list[Path]]:
    """Remove the project's state from the homes; returns (removed, kept because data named by
    a DATA_VARIABLES variable lies there). With `everything`, also the request log and the
    dagster.yaml make copied (only if it is still make's copy of `repo_dagster_yaml`), and
    each home itself if that left it empty."""
    protected = [
        Path(env[name]).expanduser().resolve()
        for name in DATA_VARIABLES
        if env.get(name) and "://" not in env[name]
    ]
    removed, kept = [], []
    for path in state_paths(mlops_home, dagster_home, everything):
        if not (path.exists() or path.is_symlink()):
            continue
        resolved = path.resolve()
        if any(data == resolved or resolved in data.parents for data in protected):
            kept.append(path)
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(path)
    if everything:
        copy = dagster_home / MADE_BY_MAKE
        if repo_dagster_yaml is not None and _is_makes_copy(copy, repo_dagster_yaml, dagster_home):
            copy.unlink()
            removed.append(copy)
        for home in (mlops_home, dagster_home):
            if home.is_dir() and not any(home.iterdir()):
                home.rmdir()
                removed.append(home)
    return removed, kept


def _is_makes_copy(copy: Path, repo_dagster_yaml: Path, dagster_home: Path) -> bool:
    """Whether `copy` is what the Makefile writes from the top-level dagster.yaml."""
    if not copy.is_file() or not repo_dagster_yaml.is_file():
        return False
    made = repo_dagster_yaml.read_text().replace(
        "base_dir: .dagster_home", f"base_dir: {dagster_home}"
    )
    return copy.read_text() == made


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops_assets.tools.project_state")
    parser.add_argument("action", choices=("reset", "clean"))
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[2]
    mlops_home = Path(env.get("MLOPS_HOME") or Path.cwd() / ".mlops").expanduser()
    dagster_home = Path(env.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home").expanduser()
    removed, kept = clear_state(
        mlops_home,
        dagster_home,
        everything=args.action == "clean",
        env=env,
        repo_dagster_yaml=root / "dagster.yaml",
    )
    what = "cleared" if args.action == "reset" else "removed"
    print(
        f"{what} the project's state ({len(removed)} entries; anything else there is left as "
        f"it was) in\n  {mlops_home}\n  {dagster_home}"
    )
    for path in kept:
        print(f"  kept {path}: data named by an MLOPS_*_DATA variable lies there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
