"""An MLflow store that answers with an error is not an empty store: only MLflow's "not found"
means there is no champion. A store whose database schema is one migration behind (what an
MLflow upgrade without `mlflow db upgrade` leaves) fails the monitoring day, the gate and the
serving watcher's health, naming the store and the command, and nothing is stored unchecked.
Real SQLite stores, downgraded by their own alembic revision table."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.contracts import CHAMPION_ALIAS
from mlops_assets.resources.mlflow_registry import MlflowRegistry, MlflowStoreError
from mlops_assets_tests.monitoring_runs import run_day_range

DAY = "2026-01-05"


def _one_migration_behind(database: Path) -> str:
    """Create the MLflow store at `database`, then mark it one migration behind the installed
    MLflow (the previous alembic revision), as an upgrade of MLflow without `mlflow db upgrade`
    leaves it. Returns the tracking URI."""
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    uri = f"sqlite:///{database}"
    # Created by another process, as a store is: MLflow caches a store per URI in a process,
    # and checks its schema only when it first opens it.
    subprocess.run(
        [sys.executable, "-c", f"import mlflow; mlflow.MlflowClient({uri!r}).search_experiments()"],
        check=True,
        capture_output=True,
    )
    script = ScriptDirectory.from_config(_get_alembic_config(db_url=""))
    previous = script.get_revision(script.get_current_head()).down_revision
    assert isinstance(previous, str)
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (previous,))
    return uri


def test_an_alias_that_does_not_exist_is_no_version(tmp_path):
    registry = MlflowRegistry(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert registry.version_by_alias(CHAMPION_ALIAS) is None  # no model yet
    registry.ensure_registered_model()
    assert registry.version_by_alias(CHAMPION_ALIAS) is None  # a model, no alias


def test_a_store_one_migration_behind_is_an_error_naming_the_upgrade_not_no_champion(tmp_path):
    uri = _one_migration_behind(tmp_path / "mlflow.db")
    registry = MlflowRegistry(tracking_uri=uri)
    with pytest.raises(MlflowStoreError) as raised:
        registry.version_by_alias(CHAMPION_ALIAS)
    message = str(raised.value)
    assert f"mlflow db upgrade {uri}" in message
    assert "out-of-date database schema" in message


def test_a_monitoring_day_on_a_store_behind_fails_and_stores_nothing_unchecked(project):
    _one_migration_behind(project.home / "mlflow.db")
    result = run_day_range(project, project.resources(), DAY, DAY)
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failures
    text = str(failures[0].step_failure_data.error)
    assert "mlflow db upgrade" in text and "has no `champion`" not in text
    assert result.get_asset_materialization_events() == []
    assert project.instance.get_materialized_partitions(dg.AssetKey("scoring_data")) == set()


def test_the_serving_watcher_reports_a_store_behind_instead_of_no_champion(tmp_path):
    from mlops_assets.serving.champion_watcher import ChampionWatcher
    from mlops_assets.serving.metrics import ServingMetrics

    registry = MlflowRegistry(tracking_uri=_one_migration_behind(tmp_path / "mlflow.db"))
    metrics = ServingMetrics()
    watcher = ChampionWatcher(registry.registry_client(), poll_seconds=30, metrics=metrics)
    assert watcher.check_once() is False
    assert "mlflow db upgrade" in watcher.store_error
    assert "mlflow db upgrade" in watcher.last_error
    assert "no `champion` version yet" not in watcher.last_error
    failures = metrics.registry.get_sample_value(
        "mlops_serving_model_load_failures_total", {"reason": "registry_error"}
    )
    assert failures == 1


def test_a_training_on_a_store_behind_fails_at_once_naming_the_upgrade(project):
    from mlops_assets.resources.data_source import TrainingDataSource

    _one_migration_behind(project.home / "mlflow.db")
    result = project.train(data_source=TrainingDataSource(synthetic_rows=300))
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert len(failures) == 1  # the first step that opens the store, not retried
    text = str(failures[0].step_failure_data.user_failure_data.description)
    assert "mlflow db upgrade sqlite:///" in text
    assert not [
        e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
    ]
