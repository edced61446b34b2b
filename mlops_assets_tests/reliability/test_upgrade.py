"""The stores an earlier release wrote open with the current code: the MLflow store (its
champion, the model artefact and its hash), the Dagster instance (its run and materialisation
history), MLOPS_HOME's files (snapshots, pickled run outputs), and a new day is scored on them.

The fixture is release fcf80bb's stores after a short training and one monitoring day
(fixtures/build_release_stores.py made it; docs/reliability.md, "Upgrading", says what each
store needs on an upgrade)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.domain.synthetic import generate_daily_batch
from mlops_assets.resources.io_managers import load_pickled_output

RELEASE = "fcf80bb"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / f"release_stores-{RELEASE}.tar.gz"
WRITTEN_AT = "/tmp/mlops-release-stores"  # where the release's stores were when it wrote them
SCORED_DAY, NEW_DAY = "2026-01-02", "2026-01-03"
# Where MLflow records artefact locations as absolute paths (MLflow 3.17's schema).
MLFLOW_PATH_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
)


def _moved_release_stores(root: Path) -> tuple[Path, Path]:
    """The release's MLOPS_HOME and DAGSTER_HOME, unpacked below `root` and pointed there, as an
    operator moving the directories would: the laptop dagster.yaml names its own directory, and
    MLflow's store records absolute artefact paths."""
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(root, filter="data")
    mlops, dagster_home = root / "mlops", root / "dagster"
    config = dagster_home / "dagster.yaml"
    config.write_text(config.read_text().replace(f"{WRITTEN_AT}/dagster", str(dagster_home)))
    with sqlite3.connect(mlops / "mlflow.db") as db:
        for table, column in MLFLOW_PATH_COLUMNS:
            db.execute(
                f"UPDATE {table} SET {column} = replace({column}, ?, ?)",  # names: the list above
                (f"{WRITTEN_AT}/mlops", str(mlops)),
            )
    return mlops, dagster_home


@pytest.mark.slow  # a monitoring day on the release's stores
def test_the_stores_of_the_previous_release_open_and_score_a_new_day(tmp_path, monkeypatch):
    mlops, dagster_home = _moved_release_stores(tmp_path)
    monkeypatch.setenv("MLOPS_HOME", str(mlops))
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    for name in ("MLFLOW_TRACKING_URI", "MLOPS_TRAINING_DATA", "MLOPS_MODEL_NAME"):
        monkeypatch.delenv(name, raising=False)

    # The upgrade steps docs/reliability.md gives, on the release's stores (up to date: no-ops).
    bin_dir = Path(sys.executable).parent
    for command in (
        [str(bin_dir / "mlflow"), "db", "upgrade", f"sqlite:///{mlops / 'mlflow.db'}"],
        [str(bin_dir / "dagster"), "instance", "migrate"],
    ):
        done = subprocess.run(command, env=dict(os.environ), capture_output=True, text=True)
        assert done.returncode == 0, (command, done.stderr[-3000:])

    from mlops_assets.definitions import build_resources, defs
    from mlops_assets.resources.data_source import ScoringDataSource
    from mlops_assets.resources.mlflow_registry import MlflowRegistry

    # MLflow: the champion the release promoted, its artefact intact (hash checked) and usable.
    registry = MlflowRegistry()
    champion = registry.version_by_alias("champion")
    assert champion is not None and champion.version == "1"
    model = registry.load_model("1")
    day = generate_daily_batch(pd.Timestamp(NEW_DAY).date(), n_rows=50, seed=3)
    assert len(model.predict(day.drop(columns=["default"]))) == 50

    # MLOPS_HOME: the pickled run outputs of the release's training load with today's types.
    outputs = sorted((mlops / "run_outputs").rglob("*.pickle"))
    assert {p.parent.name for p in outputs} == {
        "trained_model",
        "evaluation_report",
        "registered_model_version",
    }
    for path in outputs:
        with path.open("rb") as handle:
            assert load_pickled_output(handle.read()) is not None  # as the IO manager loads it

    with dg.DagsterInstance.get() as instance:
        # Dagster: the release's history, as the UI would read it.
        runs = {r.job_name: r for r in instance.get_runs()}
        assert set(runs) == {"training_job", "daily_monitoring_job"}
        assert {r.status for r in runs.values()} == {dg.DagsterRunStatus.SUCCESS}
        scored = instance.get_materialized_partitions(dg.AssetKey("batch_predictions"))
        assert scored == {SCORED_DAY}
        assert instance.get_latest_materialization_event(dg.AssetKey("registered_model_version"))

        # A new day, scored by today's code on the release's stores.
        result = defs.resolve_job_def("daily_monitoring_job").execute_in_process(
            instance=instance,
            partition_key=NEW_DAY,
            resources={**build_resources(), "scoring_source": ScoringDataSource(rows_per_day=300)},
            run_config={
                "ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}
            },
        )
        assert result.success
        scored = instance.get_materialized_partitions(dg.AssetKey("batch_predictions"))
        assert scored == {SCORED_DAY, NEW_DAY}
        predictions = pd.read_parquet(mlops / "assets" / "batch_predictions" / f"{NEW_DAY}.parquet")
        assert len(predictions) == 300
        drift = instance.get_latest_materialization_event(dg.AssetKey("drift_report"))
        assert drift is not None and drift.asset_materialization.partition == NEW_DAY
