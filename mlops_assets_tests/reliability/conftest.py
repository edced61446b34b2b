"""Fixtures of the reliability tests: a trained champion shared by a module's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.resources.data_source import TrainingDataSource
from mlops_assets_tests.conftest import PROJECT_ENV, Project


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: long-running (the soak test); deselect with -m 'not slow'"
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A project whose champion (v1) was trained on the small built-in data, shared by the
    tests of one module (each test names its own partitions, so they do not interfere)."""
    tmp = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_HOME", str(tmp / "mlops"))
        for name in PROJECT_ENV:
            patch.delenv(name, raising=False)
        (tmp / "dagster").mkdir()
        with dg.instance_for_test(temp_dir=str(tmp / "dagster")) as instance:
            project = Project(home=Path(tmp / "mlops"), instance=instance)
            assert project.train(data_source=TrainingDataSource(synthetic_rows=1500)).success
            yield project
