"""`make demo` and `make clean` remove only the project's state in the MLOPS_HOME and DAGSTER_HOME
they use: never the repo's own .mlops when the homes are elsewhere, never a user's other files
in those directories, never data a variable points at."""

import os
import re
import subprocess
from pathlib import Path

from mlops_assets.tools.project_state import MLOPS_STATE, clear_state

ROOT = Path(__file__).resolve().parents[1]


def _project_state(mlops_home: Path, dagster_home: Path) -> None:
    """What a demo leaves: the MLflow store, the package's folders, Dagster's storage."""
    (mlops_home / "mlartifacts" / "1").mkdir(parents=True)
    (mlops_home / "mlflow.db").write_bytes(b"SQLite format 3\0")
    (mlops_home / "reports" / "drift").mkdir(parents=True)
    (mlops_home / "reports" / "drift" / "2026-01-02.json").write_text("{}")
    (mlops_home / "builtin_calendar.json").write_text("{}")
    (mlops_home / "labels").mkdir()
    (mlops_home / "labels" / "2026-01-02.parquet").write_bytes(b"PAR1")
    for name in ("storage", "history", "schedules"):
        (dagster_home / name).mkdir(parents=True)
        (dagster_home / name / "x.db").write_bytes(b"x")


def _make(*args: str, homes: tuple[Path, Path]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "DAGSTER_HOME"))}
    return subprocess.run(
        ["make", "-s", *args, f"MLOPS_HOME={homes[0]}", f"DAGSTER_HOME={homes[1]}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_demo_with_its_homes_elsewhere_touches_nothing_in_the_repo(tmp_path):
    homes = (tmp_path / "mlops", tmp_path / "dagster")
    commands = _make("-n", "demo", homes=homes)
    assert commands.returncode == 0, commands.stderr
    lines = commands.stdout.splitlines()
    # No command removes anything itself, nor names the repo's .mlops: the reset is the homes'.
    assert not [line for line in lines if re.search(r"\brm\b", line)], lines
    assert not [line for line in lines if ".mlops" in line], lines
    assert any("mlops_assets.tools.project_state reset" in line for line in lines), lines


def test_make_clean_removes_the_projects_state_and_keeps_a_users_files(tmp_path):
    mlops_home, dagster_home = tmp_path / "mlops", tmp_path / "dagster"
    _project_state(mlops_home, dagster_home)
    (mlops_home / "my-notes.txt").write_text("mine")
    (dagster_home / "my-workspace.yaml").write_text("mine")
    repo_state = ROOT / ".mlops"
    before = sorted(p.name for p in repo_state.iterdir()) if repo_state.exists() else None

    result = _make("clean", homes=(mlops_home, dagster_home))
    assert result.returncode == 0, result.stderr

    assert sorted(p.name for p in mlops_home.iterdir()) == ["my-notes.txt"]
    assert sorted(p.name for p in dagster_home.iterdir()) == ["my-workspace.yaml"]
    after = sorted(p.name for p in repo_state.iterdir()) if repo_state.exists() else None
    assert after == before
    assert "anything else there is left as it was" in result.stdout


def test_make_clean_removes_its_own_dagster_yaml_and_the_emptied_homes(tmp_path):
    mlops_home, dagster_home = tmp_path / "mlops", tmp_path / "dagster"
    _project_state(mlops_home, dagster_home)
    made = (ROOT / "dagster.yaml").read_text()
    (dagster_home / "dagster.yaml").write_text(
        made.replace("base_dir: .dagster_home", f"base_dir: {dagster_home}")
    )
    assert _make("clean", homes=(mlops_home, dagster_home)).returncode == 0
    assert not mlops_home.exists() and not dagster_home.exists()

    # A dagster.yaml of the user's own (not make's copy) stays, and so does its directory.
    _project_state(mlops_home, dagster_home)
    (dagster_home / "dagster.yaml").write_text("storage:\n  postgres: {}\n")
    assert _make("clean", homes=(mlops_home, dagster_home)).returncode == 0
    assert [p.name for p in dagster_home.iterdir()] == ["dagster.yaml"]


def test_the_demos_reset_keeps_data_a_variable_points_at_and_the_request_log(tmp_path):
    mlops_home, dagster_home = tmp_path / "mlops", tmp_path / "dagster"
    _project_state(mlops_home, dagster_home)
    (mlops_home / "requests" / "2026-01-02").mkdir(parents=True)
    removed, kept = clear_state(
        mlops_home,
        dagster_home,
        everything=False,
        env={"MLOPS_LABELS_DATA": str(mlops_home / "labels")},
    )
    assert kept == [mlops_home / "labels"]
    assert (mlops_home / "labels" / "2026-01-02.parquet").exists()
    assert (mlops_home / "requests" / "2026-01-02").is_dir()
    assert sorted(p.name for p in mlops_home.iterdir()) == ["labels", "requests"]
    assert sorted(p.name for p in dagster_home.iterdir()) == []
    assert {p.name for p in removed} <= set(MLOPS_STATE) | {"storage", "history", "schedules"}
