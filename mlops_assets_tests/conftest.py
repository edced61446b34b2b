"""Shared fixtures: every test that runs assets gets its own MLOPS_HOME (with a real SQLite
MLflow store inside) and a real Dagster instance in a temp dir. Nothing is mocked."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from mlops_assets.resources.data_source import TrainingDataSource
from mlops_assets.resources.mlflow_registry import MlflowRegistry

# The MLflow retry policy is read when the definitions load (defs/common.py, imported later
# than this file): tests that take MLflow down wait fractions of a second, not minutes.
os.environ.setdefault("MLOPS_MLFLOW_MAX_RETRIES", "2")
os.environ.setdefault("MLOPS_MLFLOW_RETRY_DELAY", "0.2")
# A developer's `make demo` records the built-in drift start in ./.mlops (BuiltinCalendar), which
# the settings read when the definitions load: the tests load them from a home of their own (each
# project fixture then sets its own), so they see the default days whatever the checkout holds.
os.environ["MLOPS_HOME"] = tempfile.mkdtemp(prefix="mlops-tests-")


# The environment a developer's shell may set that would point a test at their own data.
PROJECT_ENV = (
    "MLFLOW_TRACKING_URI",
    "MLOPS_TRAINING_DATA",
    "MLOPS_TRAINING_TABLE",
    "MLOPS_TARGET_COLUMN",
    "MLOPS_TIMESTAMP_COLUMN",
    "MLOPS_ID_COLUMNS",
    "MLOPS_EXCLUDE_COLUMNS",
    "MLOPS_MODEL_NAME",
    "MLOPS_DATA_ROOTS",
)


@dataclass
class Project:
    home: Path
    instance: dg.DagsterInstance

    def resources(self, **overrides: Any) -> dict[str, Any]:
        from mlops_assets.definitions import build_resources

        return {**build_resources(), **overrides}

    def train(
        self, run_config: Mapping[str, Any] | None = None, **resource_overrides: Any
    ) -> dg.ExecuteInProcessResult:
        """Materialise the whole training graph, as `training_job` does."""
        from mlops_assets.definitions import defs

        job = defs.resolve_job_def("training_job")
        selected = job.asset_layer.selected_asset_keys
        return dg.materialize(
            # scoring_data too, unselected: raw_data's retraining window reads it as an input.
            [defs.get_assets_def(key) for key in (*selected, dg.AssetKey("scoring_data"))],
            selection=list(selected),
            resources=self.resources(**resource_overrides),
            instance=self.instance,
            run_config=run_config or {},
            raise_on_error=False,
        )

    def registry(self) -> MlflowRegistry:
        return MlflowRegistry()


@pytest.fixture(autouse=True)
def _no_stale_defs_state_storage() -> Iterator[None]:
    """Each test starts with no current DefsStateStorage. An instance sets its own as current
    on entering (a context variable) and restores the one before on leaving; when two
    instances are left out of order, the variable keeps the storage of an instance already
    collected, and the next Definitions a test resolves outside an instance fails with
    "Attempted to resolve undefined DagsterInstance weakref" (seen in CI, depending on which
    tests a worker ran before). A test inside an instance still gets that instance's storage."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield


def _open_project(directory: Path, env: pytest.MonkeyPatch) -> Iterator[Project]:
    """A project of its own under `directory`: MLOPS_HOME (set through `env`, which undoes it)
    and a Dagster instance, with the developer's project environment cleared."""
    home = directory / "mlops"
    env.setenv("MLOPS_HOME", str(home))
    for name in PROJECT_ENV:
        env.delenv(name, raising=False)
    (directory / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(directory / "dagster")) as instance:
        yield Project(home=home, instance=instance)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    yield from _open_project(tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def module_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """One project shared by the tests of a module, for state that is expensive to build (a
    trained champion, a monitoring loop) and that those tests only read. A test that also asks
    for `project` works in that one instead, for as long as it runs."""
    with pytest.MonkeyPatch.context() as env:
        yield from _open_project(tmp_path_factory.mktemp("project"), env)


@pytest.fixture(scope="module")
def trained(module_project: Project) -> Project:
    """A project whose champion (v1) was trained on the small built-in data, shared by the
    tests of one module (each test names its own partitions, so they do not interfere)."""
    assert module_project.train(data_source=TrainingDataSource(synthetic_rows=1500)).success
    return module_project
