"""The domain's shape: small modules, no Dagster, and the split packages' public names intact."""

import ast
import importlib
from pathlib import Path

import pytest

import mlops_assets.domain

DOMAIN = Path(mlops_assets.domain.__file__).parent
MAX_MODULE_LINES = 400
SPLIT_PACKAGES = ("drift", "schemas", "evaluation", "data", "promotion")


def _modules() -> list[Path]:
    return sorted(DOMAIN.rglob("*.py"))


def test_no_domain_module_is_over_400_lines():
    long = {
        str(path.relative_to(DOMAIN)): n
        for path in _modules()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_domain_module_imports_dagster():
    importers = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "dagster" for name in names):
                importers.append(str(path.relative_to(DOMAIN)))
    assert importers == []


@pytest.mark.parametrize("package", SPLIT_PACKAGES)
def test_a_split_package_exports_each_name_once_from_its_own_modules(package):
    module = importlib.import_module(f"mlops_assets.domain.{package}")
    assert len(module.__all__) == len(set(module.__all__))
    objects = {name: getattr(module, name) for name in module.__all__}
    # Functions and classes name their owner; constants and typing aliases do not.
    owners = {
        name: obj.__module__
        for name, obj in objects.items()
        if callable(obj) and obj.__module__ != "typing"
    }
    assert owners
    assert {
        name: owner
        for name, owner in owners.items()
        if not owner.startswith(f"mlops_assets.domain.{package}.")
    } == {}


def test_task_type_has_one_definition_in_the_schema_model():
    from mlops_assets.domain import schemas, training
    from mlops_assets.domain.schemas import model

    assert training.TaskType is model.TaskType
    assert schemas.TaskType is model.TaskType
    definitions = [
        str(path.relative_to(DOMAIN))
        for path in _modules()
        if "TaskType = Literal[" in path.read_text()
    ]
    assert definitions == ["schemas/model.py"]
