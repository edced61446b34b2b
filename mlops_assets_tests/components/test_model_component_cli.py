"""`dg` at the repo root with the model component: listed, scaffolded, and a declared model
reaching the code location (its own training job and keys beside the default model's).
Each test runs in a temp copy of the working tree, so nothing is left in the repo."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow  # dg in subprocesses

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture
def project(tmp_path: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    copy = tmp_path / "repo"
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


def _dg(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DAGSTER_", "MLOPS_", "MLFLOW_"))
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(BIN.parent),
        # The copy's package, not the editable install's (the worktree).
        PYTHONPATH=str(project),
        MLOPS_HOME=str(project.parent / "mlops"),
        DAGSTER_DISABLE_TELEMETRY="1",
    )
    return subprocess.run(
        [str(BIN / "dg"), *args], cwd=project, env=env, capture_output=True, text=True, timeout=600
    )


def test_dg_lists_the_model_component_and_scaffolds_a_model(project: Path) -> None:
    listed = _dg(project, "list", "components", "--json")
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "mlops_assets.components.MlopsModel" in {
        c["key"] for c in json.loads(listed.stdout)["items"]
    }

    scaffolded = _dg(project, "scaffold", "defs", "mlops_assets.components.MlopsModel", "churn")
    assert scaffolded.returncode == 0, scaffolded.stderr[-3000:]

    written = yaml.safe_load((project / "mlops_assets/defs/churn/defs.yaml").read_text())
    assert written["type"] == "mlops_assets.components.MlopsModel"
    assert written["attributes"]["name"] == "churn"
    assert {"training", "scoring", "labels", "gate", "retraining", "schedule"} <= set(
        written["attributes"]
    )


def test_dg_check_defs_names_a_misspelt_key_of_a_declared_model(project: Path) -> None:
    _dg(project, "scaffold", "defs", "mlops_assets.components.MlopsModel", "churn")
    path = project / "mlops_assets/defs/churn/defs.yaml"
    path.write_text(path.read_text().replace("delay_days:", "delay_dayz:"))

    checked = _dg(project, "check", "defs")

    assert checked.returncode != 0
    assert "defs/churn/defs.yaml" in checked.stdout + checked.stderr
    assert "delay_dayz" in checked.stdout + checked.stderr


def test_dg_check_defs_names_a_wrong_type_and_an_unknown_key_of_the_retraining_policy(
    project: Path,
) -> None:
    _dg(project, "scaffold", "defs", "mlops_assets.components.MlopsModel", "churn")
    path = project / "mlops_assets/defs/churn/defs.yaml"
    written = path.read_text()
    assert "    window_days: 7\n" in written
    path.write_text(
        written.replace("    window_days: 7\n", "    window_days: a week\n    windows: 2\n")
    )

    checked = _dg(project, "check", "defs")

    assert checked.returncode != 0
    output = checked.stdout + checked.stderr
    assert "attributes.retraining.window_days 'a week' is not of type 'integer'" in output
    assert "attributes.retraining.windows Additional properties are not allowed" in output


def test_a_declared_model_reaches_the_code_location_with_its_own_training_job(
    project: Path,
) -> None:
    _dg(project, "scaffold", "defs", "mlops_assets.components.MlopsModel", "churn")

    checked = _dg(project, "check", "defs")
    listed = _dg(project, "list", "defs", "--json")

    assert checked.returncode == 0, checked.stderr[-3000:]
    assert listed.returncode == 0, listed.stderr[-3000:]
    defs = json.loads(listed.stdout)
    assert {job["name"] for job in defs["jobs"]} >= {
        "training_job",
        "churn__training_job",
        "retraining_job",
        "churn__retraining_job",
    }
    assert {sensor["name"] for sensor in defs["sensors"]} >= {
        "drift_retraining_sensor",
        "churn__drift_retraining_sensor",
        "monitoring_alerts_sensor",
        "churn__monitoring_alerts_sensor",
    }
    assert {asset["asset_key"] for asset in defs["assets"]} >= {"raw_data", "churn/raw_data"}
