"""Scoring partitions start where the data does: the earliest daily file of the directory when
MLOPS_SCORING_START is unset (read when the code location loads)."""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from mlops_assets.domain.data import DataSourceError
from mlops_assets.resources.data_source import (
    DEFAULT_SCORING_START,
    BuiltinCalendar,
    scoring_start,
)


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
    assert scoring_start({"MLOPS_HOME": str(tmp_path / "home")}) == DEFAULT_SCORING_START
    assert scoring_start({"MLOPS_SCORING_DATA": "sqlite:///x.db"}) == DEFAULT_SCORING_START
    assert scoring_start({"MLOPS_SCORING_DATA": str(tmp_path / "none")}) == DEFAULT_SCORING_START
    empty = _daily_files(tmp_path / "empty")
    assert scoring_start({"MLOPS_SCORING_DATA": str(empty)}) == DEFAULT_SCORING_START


def _loaded_in_a_fresh_process(env: dict[str, str], expression: str) -> object:
    """`expression` over the definitions (`defs`, its monitoring partitions `p`) as a new code
    location process loads them with `env`: partitions are fixed at load."""
    code = (
        "import json\n"
        "from mlops_assets.definitions import defs\n"
        "p = defs.resolve_job_def('daily_monitoring_job').partitions_def\n"
        f"print(json.dumps({expression}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_definitions_loaded_with_a_directory_have_its_first_day_as_a_partition(tmp_path):
    days = _daily_files(tmp_path / "days", "2025-11-20.csv", "2025-11-21.csv")
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_SCORING_START"}
    env.update(MLOPS_SCORING_DATA=str(days), MLOPS_HOME=str(tmp_path / "home"))
    loaded = _loaded_in_a_fresh_process(
        env, "[p.get_first_partition_key(), p.has_partition_key('2025-11-20')]"
    )
    assert loaded == ["2025-11-20", True]


def test_the_built_in_calendar_recorded_in_the_home_moves_the_drift_start_not_the_partitions(
    tmp_path,
):
    """What `make demo` records: its 20 days ending yesterday, drifted from the 8th. Every
    process with that MLOPS_HOME draws the same drifted days; the partitions come from the
    settings alone, and reach today, so the demo's days are among them."""
    home = tmp_path / "home"
    calendar = BuiltinCalendar.ending(date(2026, 12, 1), days=20, drift_day=8)
    assert (calendar.scoring_start, calendar.drift_start) == ("2026-11-12", "2026-11-19")
    calendar.write({"MLOPS_HOME": str(home)})
    assert scoring_start({"MLOPS_HOME": str(home)}) == DEFAULT_SCORING_START
    assert scoring_start({"MLOPS_HOME": str(home), "MLOPS_SCORING_START": "2026-03-01"}) == (
        "2026-03-01"
    )
    env = {
        k: v for k, v in os.environ.items() if k not in ("MLOPS_SCORING_START", "MLOPS_DRIFT_START")
    }
    env.update(MLOPS_HOME=str(home))
    loaded = _loaded_in_a_fresh_process(
        env,
        "[p.get_first_partition_key(), p.has_partition_key('2026-11-12'), "
        "defs.resources['scoring_source'].drift_start]",
    )
    assert loaded == [DEFAULT_SCORING_START, True, "2026-11-19"]


def test_a_damaged_built_in_calendar_is_named_with_what_to_do(tmp_path):
    (tmp_path / "builtin_calendar.json").write_text('{"scoring_start": "last week"}')
    with pytest.raises(DataSourceError, match=r"builtin_calendar\.json: not a built-in calendar"):
        BuiltinCalendar.read({"MLOPS_HOME": str(tmp_path)})
