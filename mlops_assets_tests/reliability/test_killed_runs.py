"""A run killed with SIGKILL in the middle of writing a partition's predictions: every file is
written beside its final name and renamed into place, so the final file still holds the last
complete version; the next run removes the dead writer's temp file and re-materialises the
partition cleanly. The killed run is a real `daily_monitoring_job` process."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlops_assets.definitions import defs
from mlops_assets.domain.data import temp_files
from mlops_assets.domain.synthetic import generate_daily_batch
from mlops_assets.resources.data_source import ScoringDataSource
from mlops_assets.resources.io_managers import asset_path

DAY = date(2026, 1, 5)
BIG_ROWS = 300_000
QUICK = {"ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}}

# What the killed process runs: the monitoring job for DAY on its own Dagster instance, with
# small chunks so that writing the predictions takes seconds.
RUN = f"""
import dagster as dg
from mlops_assets.definitions import defs
with dg.DagsterInstance.get() as instance:
    defs.resolve_job_def("daily_monitoring_job").execute_in_process(
        partition_key="{DAY}",
        instance=instance,
        run_config={{"ops": {{"daily_monitoring": {{"config": {{
            "batch_predictions": {{"chunk_rows": 250}},
            "drift_report": {{"evidently_html": False}}}}}}}}}},
    )
"""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow  # a monitoring run in a subprocess, killed mid-write
def test_a_run_killed_mid_write_leaves_no_partial_file_and_the_next_run_recovers(trained, tmp_path):
    directory = tmp_path / "daily"
    directory.mkdir()
    source = ScoringDataSource(location=str(directory))
    resources = trained.resources(scoring_source=source)
    job = defs.resolve_job_def("daily_monitoring_job")

    # A complete version of the day first.
    generate_daily_batch(DAY, n_rows=500, seed=1).to_parquet(directory / f"{DAY}.parquet")
    assert job.execute_in_process(
        partition_key=DAY.isoformat(),
        instance=trained.instance,
        resources=resources,
        run_config=QUICK,
    ).success
    predictions = asset_path(dg.AssetKey("batch_predictions"), DAY.isoformat())
    complete = _sha256(predictions)

    # A corrected, much larger delivery; its scoring run is killed while it writes.
    big = pd.concat([generate_daily_batch(DAY, n_rows=10_000, seed=s) for s in range(30)])
    big.to_parquet(directory / f"{DAY}.parquet", index=False)
    assert len(big) == BIG_ROWS
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
        "DAGSTER_HOME": str(tmp_path / "killed_dagster_home"),
        "MLOPS_SCORING_DATA": str(directory),
    }
    (tmp_path / "killed_dagster_home").mkdir()
    process = subprocess.Popen(
        [sys.executable, "-c", RUN], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while not [p for p in temp_files(predictions) if p.stat().st_size > 0]:
            assert process.poll() is None, process.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the scoring run never started writing"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()

    assert process.returncode == -signal.SIGKILL
    (orphan,) = temp_files(predictions)  # what the dead writer left: a partial file...
    with pytest.raises(Exception):  # noqa: B017 - pyarrow raises its own error types
        pq.read_metadata(orphan)
    assert _sha256(predictions) == complete  # ...and never in place of the complete one
    assert len(pd.read_parquet(predictions)) == 500

    # The next run (on the instance that saw nothing of the killed one) re-materialises it.
    again = job.execute_in_process(
        partition_key=DAY.isoformat(),
        instance=trained.instance,
        resources=resources,
        run_config=QUICK,
    )
    assert again.success
    assert temp_files(predictions) == []
    assert pq.read_metadata(predictions).num_rows == BIG_ROWS
    assert not list(predictions.parent.glob("*.tmp"))


def test_only_a_dead_writers_temp_file_is_removed(tmp_path):
    from mlops_assets.domain.data import WRITER_HOST, write_text_atomic

    target = tmp_path / "report.json"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        left_by_dead = tmp_path / f".report.json.{WRITER_HOST}.{dead.pid}.abc.tmp"
        being_written = tmp_path / f".report.json.{WRITER_HOST}.{live.pid}.def.tmp"
        other_machine = tmp_path / ".report.json.elsewhere.1.ghi.tmp"
        for path in (left_by_dead, being_written, other_machine):
            path.write_text("partial")
        write_text_atomic("{}", target)
        assert target.read_text() == "{}"
        assert temp_files(target) == sorted([being_written, other_machine])
    finally:
        live.kill()
        live.wait()
