"""`make demo` on a table it has never seen, configured as the README says: it names the data it
trains on, registers the model under a name of that data (not the built-in `credit-default`),
scores the days of the scoring directory, and with no scoring directory trains only and says
which variable to set. Run as `make demo` runs it: `python -m mlops_assets.tools.demo`, with the
laptop dagster.yaml in DAGSTER_HOME."""

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.definitions import default_model_name
from mlops_assets.tools.demo import DemoSetupError, plan_demo, scoring_file_days

ROOT = Path(__file__).resolve().parents[1]
DAYS = ("2025-03-03", "2025-03-04", "2025-03-06")  # a gap, as real exports have


def test_default_model_name_is_credit_default_only_for_the_built_in_data(tmp_path):
    assert default_model_name("") == "credit-default"
    assert default_model_name("~/data/churn.csv") == "churn"
    assert default_model_name("/data/Loan Book (2024).parquet") == "Loan-Book-2024"
    (tmp_path / "daily.v2").mkdir()
    assert default_model_name(f"{tmp_path}/daily.v2/") == "daily.v2"
    assert default_model_name("postgresql+psycopg2://u@db/x", "public.loans") == "public.loans"
    assert default_model_name("/data/###.csv") == "model"


def test_demo_plan_trains_only_when_nothing_can_be_scored(tmp_path):
    table = {"MLOPS_TRAINING_DATA": str(tmp_path / "t.csv"), "MLOPS_TARGET_COLUMN": "y"}
    plan = plan_demo(table)
    assert plan.days == () and "MLOPS_SCORING_DATA is not set" in plan.train_only
    assert "target column 'y'" in plan.training
    sql = plan_demo({**table, "MLOPS_SCORING_DATA": "postgresql://u:secret@db/x"})
    assert sql.days == () and "make backfill FROM=" in sql.train_only
    assert "secret" not in sql.scoring
    builtin = plan_demo({})
    assert builtin.days is None and not builtin.train_only
    assert builtin.training.startswith("built-in synthetic credit data")


def test_scoring_days_come_from_the_directory_file_names(tmp_path):
    for name in ("2025-03-04.csv", "2025-03-03.parquet", "notes.txt", "20250305.csv"):
        (tmp_path / name).write_text("a\n1\n")
    assert scoring_file_days(tmp_path) == (date(2025, 3, 3), date(2025, 3, 4))
    (tmp_path / "2025-02-30.csv").write_text("a\n1\n")
    with pytest.raises(DemoSetupError, match="2025-02-30 is not a date"):
        scoring_file_days(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "day1.csv").write_text("a\n1\n")
    with pytest.raises(DemoSetupError, match=r"no daily file.*day1\.csv"):
        scoring_file_days(empty)
    with pytest.raises(DemoSetupError, match="must be a directory"):
        scoring_file_days(tmp_path / "missing")


@pytest.fixture
def breast_cancer(tmp_path) -> tuple[Path, Path]:
    """scikit-learn's breast cancer table (569 rows, 30 float features, target 0/1) as a
    training CSV, and three labelled days cut from rows it does not hold."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.sample(frac=1.0, random_state=0)
    training = tmp_path / "data" / "breast_cancer.csv"
    training.parent.mkdir()
    frame.iloc[:419].to_csv(training, index=False)
    scoring = tmp_path / "data" / "daily"
    scoring.mkdir()
    for index, day in enumerate(DAYS):
        frame.iloc[419 + 50 * index : 469 + 50 * index].to_csv(scoring / f"{day}.csv", index=False)
    return training, scoring


def _demo(tmp_path: Path, settings: dict[str, str]) -> tuple[subprocess.CompletedProcess, Path]:
    """`make demo` in a fresh project directory: DAGSTER_HOME with the laptop dagster.yaml."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "dagster.yaml", project / "dagster.yaml")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))},
        "DAGSTER_HOME": str(project),
        "MLOPS_HOME": str(tmp_path / "mlops"),
        "MLOPS_DRIFT_SENSOR": "on",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        **settings,
    }
    result = subprocess.run(
        [sys.executable, "-m", "mlops_assets.tools.demo"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return result, project


def _registered_models(tmp_path: Path) -> set[str]:
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlops' / 'mlflow.db'}"
    return {model.name for model in MlflowClient(uri, uri).search_registered_models()}


@pytest.mark.slow  # `make demo` in a subprocess
def test_demo_trains_on_a_real_table_and_scores_the_days_of_its_directory(
    tmp_path, breast_cancer, monkeypatch
):
    training, scoring = breast_cancer
    result, project = _demo(
        tmp_path,
        {
            "MLOPS_TRAINING_DATA": str(training),
            "MLOPS_TARGET_COLUMN": "target",
            "MLOPS_SCORING_DATA": str(scoring),
        },
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert f"training_job on {training}, target column 'target'" in out
    assert "breast_cancer v1: champion" in out
    assert f"2/2 scoring 3 days of {scoring} from {DAYS[0]}" in " ".join(out.split())
    for day in DAYS:
        assert f"\n{day} " in out, out
    assert "Champion: breast_cancer v" in out
    assert "built-in" not in out
    assert _registered_models(tmp_path) == {"breast_cancer"}

    monkeypatch.chdir(project)  # the instance's paths are relative to the project directory
    with dg.DagsterInstance.from_config(str(project)) as instance:
        scored = instance.get_materialized_partitions(dg.AssetKey("batch_predictions"))
    assert scored == set(DAYS)


@pytest.mark.slow  # `make demo` in a subprocess
def test_demo_with_a_day_missing_a_column_scores_the_others_and_exits_naming_it(
    tmp_path, breast_cancer, monkeypatch
):
    """One daily file lost a column: its row says FAILED, the other days are scored, the
    reason (file, column, run) is said once at the end, and the exit status is 1."""
    training, scoring = breast_cancer
    bad = scoring / f"{DAYS[1]}.csv"
    pd.read_csv(bad).drop(columns=["mean radius"]).to_csv(bad, index=False)
    result, project = _demo(
        tmp_path,
        {
            "MLOPS_TRAINING_DATA": str(training),
            "MLOPS_TARGET_COLUMN": "target",
            "MLOPS_SCORING_DATA": str(scoring),
        },
    )
    out, err = result.stdout, result.stderr
    assert result.returncode == 1, out[-3000:] + err[-3000:]
    both = out + err
    assert "Traceback" not in both and "Stack Trace" not in both, both[-3000:]
    # Said once, whole, in the table's note for the day; the summary on stderr names the day.
    assert both.count("'mean radius' is missing") == 1, both
    table = out[out.index("date       drift") : out.index("Done in")]
    failed = next(line for line in table.splitlines() if line.startswith(DAYS[1]))
    assert "FAILED" in failed and "not scored [" in failed, failed
    number = failed.split("not scored [")[1].split("]")[0]
    said = " ".join(table.split())
    assert f"[{number}] {bad} cannot be scored: column 'mean radius' is missing" in said, table
    assert "`make ui` -> Runs" in said
    assert f"1 of 3 days failed, the others were scored: {DAYS[1]} (note [{number}])." in " ".join(
        err.split()
    ), err
    for day in (DAYS[0], DAYS[2]):
        row = next(line for line in table.splitlines() if line.startswith(day))
        assert " v1 " in row and "FAILED" not in row, row
    # Every line fits 100 columns but a file path longer than that, kept whole to be copied.
    assert all(len(line) <= 100 or str(bad) in line for line in table.splitlines()), table

    monkeypatch.chdir(project)
    with dg.DagsterInstance.from_config(str(project)) as instance:
        scored = instance.get_materialized_partitions(dg.AssetKey("batch_predictions"))
        jobs = {run.job_name for run in instance.get_runs()}
    assert scored == {DAYS[0], DAYS[2]}
    assert jobs == {"training_job", "daily_monitoring_job"}


@pytest.mark.slow  # `make demo` in a subprocess
def test_demo_whose_training_fails_says_why_once_in_a_few_lines(tmp_path, breast_cancer):
    """A training error (the target column is not in the table) is said once, on a few
    lines, with the run to open: not Dagster's step and run failures with their stack
    traces, each repeating it."""
    training, scoring = breast_cancer
    result, _ = _demo(
        tmp_path,
        {
            "MLOPS_TRAINING_DATA": str(training),
            "MLOPS_TARGET_COLUMN": "nope",
            "MLOPS_SCORING_DATA": str(scoring),
        },
    )
    both = result.stdout + result.stderr
    assert result.returncode == 1, both
    assert both.count("target column 'nope' is missing") == 1, both
    assert "Traceback" not in both and "Stack Trace" not in both, both
    assert len(both.splitlines()) <= 6, both
    assert "training_job failed: " in result.stderr and "`make ui` -> Runs" in result.stderr


@pytest.mark.slow  # `make demo` in a subprocess
def test_demo_with_only_training_data_trains_and_says_how_to_score(tmp_path, breast_cancer):
    training, _ = breast_cancer
    result, _ = _demo(
        tmp_path, {"MLOPS_TRAINING_DATA": str(training), "MLOPS_TARGET_COLUMN": "target"}
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "1/1 training_job on" in result.stdout
    assert "breast_cancer v1: champion" in result.stdout
    assert "Trained only. MLOPS_SCORING_DATA is not set: set MLOPS_SCORING_DATA" in result.stdout
    assert "2/2" not in result.stdout
    assert _registered_models(tmp_path) == {"breast_cancer"}


def test_the_demo_lays_the_built_in_days_out_to_end_yesterday_unless_the_user_chose_them():
    from mlops_assets.tools.demo import DEMO_DAYS, demo_calendar

    calendar = demo_calendar({}, date(2026, 12, 2))
    assert calendar is not None and DEMO_DAYS == 20
    assert (calendar.scoring_start, calendar.drift_start) == ("2026-11-12", "2026-11-19")
    assert demo_calendar({"MLOPS_SCORING_START": "2026-01-02"}, date(2026, 12, 2)) is None
    assert demo_calendar({"MLOPS_DRIFT_START": "2026-01-09"}, date(2026, 12, 2)) is None
