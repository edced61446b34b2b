"""Scoring partitions start where the data does: the earliest daily file of the directory when
MLOPS_SCORING_START is unset (read when the code location loads)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from mlops_assets.resources.data_source import DEFAULT_SCORING_START, scoring_start


def _daily_files(directory: Path, *names: str) -> Path:
    directory.mkdir()
    for name in names:
        (directory / name).write_text("x,default\n1,0\n")
    return directory


def test_the_earliest_daily_file_is_the_first_partition(tmp_path):
    days = _daily_files(tmp_path / "days", "2026-01-03.parquet", "2026-01-01.csv", "2026-02-01.csv")
    assert scoring_start({"MLOPS_SCORING_DATA": str(days)}) == "2026-01-01"


def test_files_that_are_not_daily_files_do_not_move_the_start(tmp_path):
    days = _daily_files(
        tmp_path / "days", "2025-13-01.csv", "notes.txt", "2025-12-01.json", "2026-03-04.csv"
    )
    assert scoring_start({"MLOPS_SCORING_DATA": str(days)}) == "2026-03-04"


def test_an_explicit_start_wins_and_other_sources_keep_the_default(tmp_path):
    days = _daily_files(tmp_path / "days", "2026-01-01.csv")
    env = {"MLOPS_SCORING_DATA": str(days), "MLOPS_SCORING_START": "2026-01-05"}
    assert scoring_start(env) == "2026-01-05"
    assert scoring_start({}) == DEFAULT_SCORING_START
    assert scoring_start({"MLOPS_SCORING_DATA": "sqlite:///x.db"}) == DEFAULT_SCORING_START
    assert scoring_start({"MLOPS_SCORING_DATA": str(tmp_path / "none")}) == DEFAULT_SCORING_START
    empty = _daily_files(tmp_path / "empty")
    assert scoring_start({"MLOPS_SCORING_DATA": str(empty)}) == DEFAULT_SCORING_START


def test_definitions_loaded_with_a_directory_have_its_first_day_as_a_partition(tmp_path):
    days = _daily_files(tmp_path / "days", "2025-11-20.csv", "2025-11-21.csv")
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_SCORING_START"}
    env.update(MLOPS_SCORING_DATA=str(days), MLOPS_HOME=str(tmp_path / "home"))
    code = (
        "import json\n"
        "from mlops_assets.definitions import defs\n"
        "p = defs.resolve_job_def('daily_monitoring_job').partitions_def\n"
        "print(json.dumps([p.get_first_partition_key(), p.has_partition_key('2025-11-20')]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["2025-11-20", True]
