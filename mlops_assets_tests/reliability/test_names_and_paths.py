"""Names and paths are checked where they enter, before anything is written: a model name that
would leave MLOPS_HOME fails the run at resource set-up (from the environment or a run's config,
the launchpad's too), every file the project writes under its home stays there, and the data
roots hold for SQLite URLs in every form SQLite opens a file (plain, relative, `file:` URIs
with `uri=true`, percent-encoded, through a symlink)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.domain.data import DataSourceError, PathEscapeError, check_sql_url, path_under
from mlops_assets.resources.data_source import TrainingDataSource
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.resources.project import ProjectStorage

ESCAPING = "../../escaped-model"


def _escaped(project) -> Path:
    # Where validated_data's schemas/<name>/ would land: two levels above the home.
    return (project.home / "schemas" / ESCAPING).resolve()


def _mlflow_runs(project) -> int:
    if not (project.home / "mlflow.db").exists():
        return 0
    with sqlite3.connect(project.home / "mlflow.db") as connection:
        return int(connection.execute("SELECT count(*) FROM runs").fetchone()[0])


def test_a_model_name_that_leaves_home_is_refused_when_the_resource_is_built():
    for name in (ESCAPING, "/tmp/evilmodel", "a/b", "", "name with space"):
        with pytest.raises(Exception, match="MLOPS_MODEL_NAME"):
            MlflowRegistry(model_name=name)
    assert MlflowRegistry(model_name="churn-v2.1_x").model_name == "churn-v2.1_x"


def test_a_model_name_from_the_environment_fails_the_run_before_anything_is_written(
    project, monkeypatch
):
    monkeypatch.setenv("MLOPS_MODEL_NAME", ESCAPING)
    result = project.train(data_source=TrainingDataSource(synthetic_rows=300))
    assert not result.success
    assert not _escaped(project).exists()
    assert not (project.home / "schemas").exists()
    assert _mlflow_runs(project) == 0
    assert result.get_asset_materialization_events() == []


def test_a_model_name_typed_in_the_launchpad_fails_the_run_before_anything_is_written(project):
    from mlops_assets.definitions import defs

    job = defs.resolve_job_def("training_job")
    config = {"resources": {"mlflow_registry": {"config": {"model_name": ESCAPING}}}}
    with pytest.raises(dg.DagsterResourceFunctionError) as raised:
        job.execute_in_process(run_config=config, instance=project.instance)
    # Refused when the run's resources are built, naming the setting.
    assert "MLOPS_MODEL_NAME" in str(raised.value.__cause__)
    assert not _escaped(project).exists()
    assert _mlflow_runs(project) == 0


def test_a_path_under_home_never_leaves_it(tmp_path):
    home = tmp_path / "home"
    assert path_under(home, "schemas", "credit-default", "v1.json") == (
        home / "schemas" / "credit-default" / "v1.json"
    )
    for parts in ((ESCAPING,), ("schemas", "..", "..", "x"), ("/etc", "passwd"), ("a", "")):
        with pytest.raises(PathEscapeError):
            path_under(home, *parts)
    storage = ProjectStorage(home=str(home))
    with pytest.raises(PathEscapeError):
        storage.path("schemas", ESCAPING, "v1.json")
    assert not (tmp_path / "escaped-model").exists()


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    """A data root holding the working directory, and a SQLite table outside it."""
    root = tmp_path / "data"
    (root / "cwd").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with sqlite3.connect(outside / "x.db") as connection:
        connection.execute("CREATE TABLE t (a INTEGER, b TEXT)")
        connection.execute("INSERT INTO t VALUES (1, 'secret')")
    monkeypatch.chdir(root / "cwd")
    monkeypatch.setenv("MLOPS_DATA_ROOTS", str(root))
    return root, outside / "x.db"


def test_every_form_of_a_sqlite_url_outside_the_roots_is_refused(warehouse, tmp_path):
    root, database = warehouse
    (root / "link.db").symlink_to(database)
    encoded = str(database).replace("/", "%2F")
    relative = os.path.relpath(database, root / "cwd")
    urls = [
        f"sqlite:///{database}",
        f"sqlite:///{relative}",
        f"sqlite:///file:{database}?mode=ro&uri=true",
        f"sqlite:///file://{database}?uri=true",
        f"sqlite:///file://localhost{database}?uri=true",
        f"sqlite:///file:{encoded}?uri=true",
        f"sqlite:///file:{relative}?uri=true",
        f"sqlite+pysqlite:///file:{database}?uri=1",
        f"sqlite:///{root / 'link.db'}",
        "sqlite:///~/x.db",
    ]
    for url in urls:
        with pytest.raises(DataSourceError):
            TrainingDataSource(location=url, table="t").load()
    # The same forms are readable once the table's directory is a root: the refusals above
    # are the roots at work, not URLs SQLite cannot open.
    os.environ["MLOPS_DATA_ROOTS"] = f"{root}{os.pathsep}{database.parent}"
    for url in urls[:-1]:
        assert TrainingDataSource(location=url, table="t").load()["b"].tolist() == ["secret"]


def test_in_memory_sqlite_and_other_databases_need_no_root(warehouse):
    for url in (
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:mem?mode=memory&uri=true",
        "postgresql://u:p@db.example/x",
    ):
        assert check_sql_url(url, "MLOPS_TRAINING_DATA") == url


def test_a_training_run_with_a_sqlite_uri_outside_the_roots_fails_without_reading(
    project, warehouse
):
    _, database = warehouse
    source = TrainingDataSource(
        location=f"sqlite:///file:{database}?mode=ro&uri=true", table="t", target_column="a"
    )
    result = project.train(data_source=source)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "outside the allowed data roots" in str(failure.step_failure_data.error)


def test_a_table_name_is_checked_where_it_enters():
    from mlops_assets.resources.data_source import LabelsDataSource, ScoringDataSource

    for source, setting in (
        (TrainingDataSource, "MLOPS_TRAINING_TABLE"),
        (ScoringDataSource, "MLOPS_SCORING_TABLE"),
        (LabelsDataSource, "MLOPS_LABELS_TABLE"),
    ):
        for bad in ("a.b.c", "loans\x00", ".loans", "main.", "loans\n; DROP"):
            with pytest.raises(Exception, match=setting):
                source(table=bad)
        for good in ("", "loans", "main.loans", "Loan Book 2026"):
            assert source(table=good).table == good
