"""NannyML beside our estimators: its environment (pandas < 3, so not the project's), built on
first use from bench/nannyml-requirements.txt with the project's uv, and one call that runs
its CBPE or DLE on frames we hand over as Parquet (bench/nannyml_worker.py does the work
there). NML_DISABLE_USAGE_LOGGING=1 keeps NannyML from reporting usage over the network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from common import DATA, HERE, ROOT

VENV = DATA / "nannyml-venv"
REQUIREMENTS = HERE / "nannyml-requirements.txt"
WORKER = HERE / "nannyml_worker.py"


class NannyMLUnavailable(RuntimeError):
    """NannyML's environment could not be built; the message says which step failed."""


@dataclass(frozen=True)
class NannyMLRun:
    """Per day and metric: value, lower, upper (NannyML's confidence boundaries)."""

    estimates: pd.DataFrame
    fit_seconds: float
    estimate_seconds: float


@dataclass(frozen=True)
class Side:
    """One estimator's figures over the days of one comparison: mean |estimate - realized|
    (relative to the realized value for a loss), the share of days whose realized value lies
    in the interval, the interval's mean half-width (relative likewise)."""

    error: float
    coverage: float
    half_width: float


def side(
    value: np.ndarray, low: np.ndarray, high: np.ndarray, realized: np.ndarray, relative: bool
) -> Side:
    scale = realized if relative else 1.0
    return Side(
        float(np.mean(np.abs(value - realized) / scale)),
        float(np.mean((low <= realized) & (realized <= high))),
        float(np.mean((high - low) / 2 / scale)),
    )


def day_dates(index: np.ndarray) -> np.ndarray:
    """The `day` column `run` cuts chunks by: day k is 2026-01-01 plus k days."""
    start = date(2026, 1, 1)
    return np.array([(start + timedelta(days=int(i))).isoformat() for i in index])


def python() -> Path:
    """NannyML's interpreter, building its environment first if it is not there (or was
    built from other requirements)."""
    interpreter = VENV / "bin" / "python"
    stamp = VENV / "requirements.txt"
    wanted = REQUIREMENTS.read_text(encoding="utf-8")
    if interpreter.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return interpreter
    uv = shutil.which("uv", path=str(ROOT / ".tools" / "bin")) or shutil.which("uv")
    if uv is None:
        raise NannyMLUnavailable("no uv in .tools/bin or on PATH: run `make setup` first")
    shutil.rmtree(VENV, ignore_errors=True)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for step in (
        [uv, "venv", "--quiet", "--python", version, str(VENV)],
        [uv, "pip", "install", "--quiet", "--python", str(interpreter), "-r", str(REQUIREMENTS)],
    ):
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise NannyMLUnavailable(
                f"building NannyML's environment failed at `{' '.join(step)}`:\n"
                f"{done.stderr.strip()[-2000:]}"
            )
    stamp.write_text(wanted, encoding="utf-8")
    return interpreter


def run(
    method: str,
    reference: pd.DataFrame,
    analysis: pd.DataFrame,
    *,
    features: list[str],
    categorical: list[str],
    y_pred: str,
    y_true: str,
    metrics: list[str],
    proba: dict[str, str] | None = None,
) -> NannyMLRun:
    """NannyML's `method` ("cbpe" or "dle") fitted on `reference` and estimated on `analysis`,
    each day (a `day` column) one chunk."""
    interpreter = python()
    with tempfile.TemporaryDirectory(dir=DATA) as work:
        folder = Path(work)
        reference.to_parquet(folder / "reference.parquet", index=False)
        analysis.to_parquet(folder / "analysis.parquet", index=False)
        job = {
            "method": method,
            "reference": str(folder / "reference.parquet"),
            "analysis": str(folder / "analysis.parquet"),
            "output": str(folder / "estimates.parquet"),
            "features": features,
            "categorical": categorical,
            "y_pred": y_pred,
            "y_true": y_true,
            "proba": proba,
            "metrics": metrics,
        }
        (folder / "job.json").write_text(json.dumps(job), encoding="utf-8")
        env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"}
        env.pop("PYTHONPATH", None)
        done = subprocess.run(
            [str(interpreter), str(WORKER), str(folder / "job.json")],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"NannyML's {method} failed:\n{done.stderr.strip()[-3000:]}")
        table = pq.read_table(folder / "estimates.parquet")
        seconds = json.loads((table.schema.metadata or {})[b"seconds"])
        return NannyMLRun(table.to_pandas(), seconds["fit_seconds"], seconds["estimate_seconds"])
