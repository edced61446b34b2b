"""The schedule's default status: on where the README says (`make ui`, `make demo`), off in a
code location loaded without it (production turns it on deliberately)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STATUS = (
    "from mlops_assets.definitions import defs; "
    "print(defs.resolve_schedule_def('daily_batch_prediction_schedule').default_status.value)"
)


@pytest.mark.parametrize(("setting", "status"), [("on", "RUNNING"), (None, "STOPPED")])
def test_the_schedule_runs_by_default_only_when_mlops_scoring_schedule_is_on(setting, status):
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_SCORING_SCHEDULE"}
    if setting is not None:
        env["MLOPS_SCORING_SCHEDULE"] = setting
    shown = subprocess.run(
        [sys.executable, "-c", STATUS], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == status


@pytest.mark.parametrize("target", ["ui", "demo"])
def test_make_ui_and_make_demo_turn_the_schedule_on(target):
    # `make -n` prints the recipe without running it.
    recipe = subprocess.run(
        ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "MLOPS_SCORING_SCHEDULE=on" in recipe
