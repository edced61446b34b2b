"""Real tables through the training graph: a leaking column is warned about and kept from
`champion`; promote_version_job moves `champion` by hand with an audit trail; the champion
scores a raw CSV through MLflow's pyfunc; MLflow's files stay in MLOPS_HOME."""

from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import mlflow.artifacts
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from mlops_assets.contracts import (
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    CHAMPION_GATE_RUN_TAG,
    PROMOTION_CHECK,
)
from mlops_assets.definitions import defs
from mlops_assets.domain.promotion import promote_version_command
from mlops_assets.resources.data_source import TrainingDataSource
from mlops_assets.resources.mlflow_registry import MlflowRegistry


def _check(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    return next(
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.asset_check_evaluation_data.check_name == name
    )


def _promote(project, version: str, **config: str) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("promote_version_job").execute_in_process(
        instance=project.instance,
        resources=project.resources(),
        run_config={"ops": {"promote_version": {"config": {"version": version, **config}}}},
        raise_on_error=False,
    )


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    return failure.step_failure_data.error.message


@pytest.fixture
def leaky_csv(tmp_path: Path) -> Path:
    """Breast cancer as a hospital extract might hold it: the diagnosis also coded in a
    column filled after the fact, and the previous model's outputs kept beside the features."""
    frame = load_breast_cancer(as_frame=True).frame
    features = frame.drop(columns="target")
    frame["diagnosis_code"] = frame["target"].map({0: 7, 1: 3})
    frame["y_pred_proba"] = (0.5 + (features["worst radius"] < 16.8) * 0.4).round(2)
    path = tmp_path / "leaky.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_leaking_table_warns_is_kept_from_champion_and_can_be_promoted_by_hand(
    project, leaky_csv
):
    source = TrainingDataSource(location=str(leaky_csv), target_column="target")
    result = project.train(data_source=source)
    assert result.success  # a warning, not a failed run

    check = _check(result, "no_target_leakage")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["leaky_features"].value == "diagnosis_code, y_pred_proba"
    assert check.metadata["solo_score.diagnosis_code"].value == pytest.approx(1.0)
    assert "| diagnosis_code | 1 | True | solo_score |" in check.metadata["solo_scores"].value

    registry = project.registry()
    ref = result.output_for_node("trained_model")
    assert ref.leaky_features == ("diagnosis_code", "y_pred_proba")
    run = registry.client().get_run(ref.run_id)
    assert run.data.tags["leakage.features"] == "diagnosis_code,y_pred_proba"
    card = registry.run_artifact(ref.run_id, "evaluation/model_card.md").read_text("utf-8")
    assert "| diagnosis_code | 1 | solo_score |" in card.split("## Leakage")[1]

    # Test metrics of a leaking model are too good to be true: it does not become champion.
    registered = result.output_for_node("registered_model_version")
    assert (registered.version, registered.promoted, registered.champion_version) == (
        "1",
        False,
        None,
    )
    (reason,) = registered.reasons
    assert "diagnosis_code, y_pred_proba" in reason
    assert promote_version_command("1") in reason
    v1 = registry.version("1")
    assert v1.tags["gate.check.no_target_leakage"] == "failed"
    # The UI shows the rejection as a yellow check on the version, with the gate's reason.
    kept_out = _check(result, PROMOTION_CHECK)
    assert not kept_out.passed and kept_out.severity == dg.AssetCheckSeverity.WARN
    assert "diagnosis_code, y_pred_proba" in kept_out.description

    # promote_version_job refuses an unknown version, and one whose artefact changed.
    unknown = _promote(project, "7", reason="typo")
    assert not unknown.success
    assert "has no version '7' (versions: 1)" in _failure_message(unknown)
    model_dir = Path(
        urlparse(registry.client().get_model_version_download_uri(registry.model_name, "1")).path
    )
    model_file = model_dir / "model.skops"
    original = model_file.read_bytes()
    model_file.write_bytes(original + b"\0")
    tampered = _promote(project, "1", reason="accepted knowingly")
    assert not tampered.success
    assert "does not match what was registered" in _failure_message(tampered)
    assert registry.version_by_alias(CHAMPION_ALIAS) is None
    model_file.write_bytes(original)

    promoted = _promote(project, "1", reason="accepted knowingly", requested_by="alice")
    assert promoted.success
    assert registry.version_by_alias(CHAMPION_ALIAS).version == "1"
    v1 = registry.version("1")
    assert v1.tags["champion.replaced"] == "none"
    assert "champion.promoted_at" in v1.tags
    assert "alice" in v1.tags["promotion.audit"]
    assert "accepted knowingly" in v1.tags["promotion.audit"]
    assert CHALLENGER_ALIAS not in v1.aliases

    # A second version, kept from champion by the gate, replaces v1 by hand: v1 is archived
    # and the audit names who, why, when and what was replaced; rollback undoes it.
    second = project.train(data_source=source)
    assert second.success
    assert registry.version_by_alias(CHAMPION_ALIAS).version == "1"
    assert _promote(project, "2", reason="v2 reviewed", requested_by="bob").success
    assert registry.version_by_alias(CHAMPION_ALIAS).version == "2"
    v1, v2 = registry.version("1"), registry.version("2")
    assert "champion.archived_at" in v1.tags
    assert v2.tags["champion.replaced"] == "1"
    assert v2.tags["promotion.audit"].startswith("promoted manually by bob at ")
    assert "replacing v1: v2 reviewed" in v2.tags["promotion.audit"]
    rollback = defs.resolve_job_def("rollback_champion_job").execute_in_process(
        instance=project.instance,
        resources=project.resources(),
        run_config={"ops": {"rollback_champion": {"config": {"reason": "undo"}}}},
    )
    assert rollback.success and registry.version_by_alias(CHAMPION_ALIAS).version == "1"


def test_promote_version_job_shares_the_champion_queue_slot():
    job = defs.resolve_job_def("promote_version_job")
    assert job.tags["mlops/gate"] == CHAMPION_GATE_RUN_TAG["mlops/gate"]


def _hospital_extract() -> pd.DataFrame:
    """Breast cancer with the types a CSV export really has: integer counts, a text grade
    with missing values, missing measurements. No leak."""
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame["mean_area"] = frame["mean_area"].round().astype(int)
    frame["worst_area"] = frame["worst_area"].round().astype(int)
    rng = np.random.default_rng(0)
    frame["grade"] = pd.Series(rng.choice(["G1", "G2", "G3"], len(frame)), dtype=object)
    frame.loc[rng.random(len(frame)) < 0.1, "grade"] = np.nan
    frame.loc[rng.random(len(frame)) < 0.05, "mean_texture"] = np.nan
    return frame


def test_the_champion_scores_a_raw_csv_through_pyfunc_and_mlflow_files_stay_in_mlops_home(
    project, tmp_path, monkeypatch
):
    training_csv = tmp_path / "extract.csv"
    extract = _hospital_extract()
    extract.to_csv(training_csv, index=False)
    # A local store named by URL, from another working directory: MLflow would put its
    # artefacts into ./mlruns there.
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    registry = MlflowRegistry(tracking_uri=uri)
    result = project.train(
        data_source=TrainingDataSource(location=str(training_csv), target_column="target"),
        mlflow_registry=registry,
    )
    assert result.success
    assert _check(result, "no_target_leakage").passed  # an honest table raises no warning
    assert result.output_for_node("registered_model_version").promoted
    assert list(cwd.iterdir()) == []
    assert list((project.home / "mlartifacts").rglob("MLmodel"))

    # Any MLflow consumer scores the source as pandas reads it: int64 and float columns,
    # strings with missing values, an int column made float by one missing value.
    raw = pd.read_csv(training_csv).drop(columns="target")
    assert raw["mean_area"].dtype == np.int64
    model = mlflow.pyfunc.load_model(
        mlflow.artifacts.download_artifacts(
            artifact_uri=registry.client().get_model_version_download_uri(
                registry.model_name, registry.version_by_alias(CHAMPION_ALIAS).version
            ),
            dst_path=str(tmp_path / "champion"),
            tracking_uri=registry.resolved_tracking_uri,
            registry_uri=registry.resolved_tracking_uri,
        )
    )
    pipeline = registry.load_model("1")
    np.testing.assert_array_equal(model.predict(raw), pipeline.predict(raw))
    with_gap = raw.astype({"mean_area": float})
    with_gap.loc[0, "mean_area"] = np.nan
    np.testing.assert_array_equal(model.predict(with_gap), pipeline.predict(with_gap))
