"""MlflowRegistry against a real SQLite store in a temp dir: it passes its URI to every call and
leaves MLflow's process-wide state (tracking URI, registry URI, environment) alone."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlops_assets.contracts import CHAMPION_ALIAS, MODEL_HASH_TAG
from mlops_assets.domain.training import SKOPS_TRUSTED_TYPES
from mlops_assets.resources.mlflow_registry import MlflowRegistry


def _log_and_register(registry: MlflowRegistry) -> str:
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
    model = LogisticRegression().fit(frame[["x"]], frame["y"])
    registry.ensure_registered_model()
    with registry.training_run(registry.experiment_id(), "train", {"k": "v"}) as run_id:
        registry.client().log_metric(run_id, "validation_accuracy", 1.0)
        model_uri = registry.log_sklearn_model(
            run_id,
            model,
            signature=None,
            input_example=frame[["x"]].head(2),
            pip_requirements=["scikit-learn"],
            skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
        )
    tags = {MODEL_HASH_TAG: registry.model_artifact_sha256(model_uri)}
    version = registry.register_once(model_uri, run_id, tags).version
    registry.set_alias(CHAMPION_ALIAS, version)
    return model_uri


@pytest.mark.parametrize("preset", [None, "sqlite:////nonexistent/elsewhere.db"])
def test_using_the_registry_leaves_mlflows_process_wide_tracking_uri_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preset: str | None
):
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "mlops"))
    if preset is None:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", preset)
    # MLflow's own default store is `./mlflow.db`: anything resolved through the process-wide
    # URI instead of this registry's would create it here.
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    before = mlflow.get_tracking_uri()
    registry = MlflowRegistry(tracking_uri=f"sqlite:///{tmp_path / 'own.db'}")

    model_uri = _log_and_register(registry)
    champion = registry.version_by_alias(CHAMPION_ALIAS)
    assert champion is not None and champion.version == "1"
    assert registry.load_model("1").predict(pd.DataFrame({"x": [3.0]}))[0] == 1
    assert registry.load_logged_model(model_uri).predict(pd.DataFrame({"x": [0.0]}))[0] == 0

    assert os.environ.get("MLFLOW_TRACKING_URI") == preset
    assert mlflow.get_tracking_uri() == before
    assert mlflow.get_registry_uri() == before
    assert list(cwd.iterdir()) == []


def test_a_logged_model_is_a_ready_skops_logged_model_linked_to_its_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "mlops"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    registry = MlflowRegistry()
    model_uri = _log_and_register(registry)
    client = registry.client()
    logged = client.get_logged_model(model_uri.removeprefix("models:/"))
    assert str(logged.status) in ("READY", "LoggedModelStatus.READY")
    assert logged.name == "model"
    run = client.get_run(logged.source_run_id)
    assert run.info.status == "FINISHED"
    assert [o.model_id for o in run.outputs.model_outputs] == [logged.model_id]
    version = registry.version("1")
    assert version.run_id == logged.source_run_id
    download_uri = client.get_model_version_download_uri(registry.model_name, "1")
    assert download_uri == logged.artifact_location
    mlmodel = Path(logged.artifact_location.removeprefix("file://")) / "MLmodel"
    assert "serialization_format: skops" in mlmodel.read_text()
    assert "model.skops" in {p.name for p in mlmodel.parent.iterdir()}


def test_a_training_run_that_raises_is_recorded_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "mlops"))
    registry = MlflowRegistry()
    experiment_id = registry.experiment_id()
    with (
        pytest.raises(RuntimeError, match="fit failed"),
        registry.training_run(experiment_id, "train", {}) as run_id,
    ):
        raise RuntimeError("fit failed")
    assert registry.client().get_run(run_id).info.status == "FAILED"


def test_a_training_run_carries_the_user_and_source_tags_start_run_would_add(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import getpass

    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "mlops"))
    registry = MlflowRegistry()
    with registry.training_run(registry.experiment_id(), "train", {"k": "v"}) as run_id:
        pass
    run = registry.client().get_run(run_id)
    assert run.info.user_id == getpass.getuser()
    assert run.data.tags["mlflow.user"] == getpass.getuser()
    assert run.data.tags["mlflow.source.type"] == "LOCAL"
    assert run.data.tags["k"] == "v"


@pytest.mark.parametrize("preprocessing", ["native", "one-hot"])
def test_a_gradient_boosting_pipeline_loads_with_the_trusted_types_and_scores_as_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preprocessing: str
):
    """Today's pipeline (native categories) and the one-hot pipeline that earlier versions
    registered both load under SKOPS_TRUSTED_TYPES and score exactly as before logging."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    from mlops_assets.domain.synthetic import (
        CATEGORICAL_FEATURES,
        NUMERIC_FEATURES,
        TARGET_COLUMN,
        generate_training_data,
    )
    from mlops_assets.domain.training import _one_hot_preprocessing, build_pipeline

    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "mlops"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    frame = generate_training_data(n_rows=1500, seed=0)
    features = [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES]
    if preprocessing == "native":
        model = build_pipeline(NUMERIC_FEATURES, CATEGORICAL_FEATURES, "binary")
    else:
        model = Pipeline(
            [
                ("preprocess", _one_hot_preprocessing(NUMERIC_FEATURES, CATEGORICAL_FEATURES)),
                ("model", HistGradientBoostingClassifier(random_state=0)),
            ]
        )
    model.fit(frame[features], frame[TARGET_COLUMN])
    registry = MlflowRegistry()
    registry.ensure_registered_model()
    with registry.training_run(registry.experiment_id(), "train", {}) as run_id:
        model_uri = registry.log_sklearn_model(
            run_id,
            model,
            signature=None,
            input_example=frame[features].head(2),
            pip_requirements=["scikit-learn"],
            skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
        )
    tags = {MODEL_HASH_TAG: registry.model_artifact_sha256(model_uri)}
    version = registry.register_once(model_uri, run_id, tags).version
    loaded = registry.load_model(version)
    rows = generate_training_data(n_rows=300, seed=1)[features]
    expected = model.predict_proba(rows)
    assert 0.05 < expected[:, 1].mean() < 0.95
    np.testing.assert_array_equal(loaded.predict_proba(rows), expected)


def test_every_mlflow_ui_link_builder_opens_the_machine_learning_pages():
    """MLflow 3.17's UI opens in GenAI mode unless the address says `workflowType`: each of
    MlflowRegistry's link builders (found by name, so a new one is held to it too) carries
    it, after the page's own route, on any base address."""
    registry = MlflowRegistry(ui_url="https://mlflow.example.com/", model_name="churn")
    builders = [name for name in dir(MlflowRegistry) if name.endswith("_url") and name[0] != "_"]
    assert {"experiment_url", "run_url", "version_url", "artifact_url"} <= set(builders)
    arguments = {
        "experiment_url": ("7",),
        "run_url": ("7", "abc"),
        "version_url": ("3",),
        "artifact_url": ("7", "abc", "reports/evidently.html"),
    }
    for name in builders:
        link = getattr(registry, name)(*arguments[name])
        assert link.startswith("https://mlflow.example.com/#/"), link
        assert link.endswith("?workflowType=machine_learning"), (name, link)
        assert link.count("?") == 1, link
