"""A declared model's service logs where its YAML's `serve.log_dir` says, and its
challenger_comparison judges those logged shadow pairs: the car-loan sample (Apache-2.0, from
NannyML, as in test_two_models) with an id column, served by the real service in shadow mode
after its day was scored by v1 alone, so every pair the comparison counts came from the log."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.components import MlopsModel
from mlops_assets.contracts import CHALLENGER_ALIAS, CHAMPION_ALIAS
from mlops_assets.definitions import build_defs
from mlops_assets.resources.data_source import TrainingDataSource
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.settings import Settings
from mlops_assets_tests.conftest import Project
from mlops_assets_tests.serving.conftest import logged_rows, running_service, wait_ready

CAR_LOAN = Path(__file__).resolve().parents[1] / "data" / "car_loan"
DAY, ID, TARGET = "2026-02-06", "loan_id", "repaid"
COMPARISON = dg.AssetKey(["car_loan", "challenger_comparison"])
QUICK = {
    "ops": {"car_loan__daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}
}


def _yaml(directory: Path, serve: str) -> str:
    return f"""
name: car_loan
training:
  location: {directory / "full.csv"}
  target: {TARGET}
  timestamp_column: timestamp
  id_columns: [{ID}]
scoring:
  location: {directory / "days"}
{serve}"""


def _comparison(instance: dg.DagsterInstance) -> dict:
    (record,) = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=COMPARISON, asset_partitions=[DAY]), limit=1
    ).records
    materialization = record.asset_materialization
    assert materialization is not None
    metadata = materialization.metadata
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def test_serve_log_dir_is_checked_and_reaches_the_models_labels_source(tmp_path, monkeypatch):
    from mlops_assets.asset_keys import ModelNames
    from mlops_assets.defs.model_resources import declared_model_resources

    monkeypatch.chdir(tmp_path)
    model = MlopsModel.resolve_from_yaml(
        _yaml(tmp_path, "serve:\n  log_dir: requests/car_loan\n  mode: canary\n")
    )
    settings = model.settings()
    assert (settings.serve_log_dir, settings.serve_mode) == ("requests/car_loan", "canary")
    resources = declared_model_resources(settings, ModelNames("car_loan"))
    assert resources["car_loan__labels_source"].request_log == "requests/car_loan"
    # Unset: the model's comparison reads no service log (the default model's is not its own).
    unset = MlopsModel.resolve_from_yaml(_yaml(tmp_path, "")).settings()
    assert (unset.serve_log_dir, unset.serve_mode) == ("", "champion")

    (tmp_path / "a_file").write_text("x")
    for serve, said in (
        (
            "serve:\n  log_dir: s3://bucket/requests\n",
            "serve.log_dir='s3://bucket/requests' is a URL",
        ),
        ("serve:\n  log_dir: a_file\n", "serve.log_dir='a_file' is a file"),
        ("serve:\n  mode: ab\n", r"serve.mode(.|\n)*'champion', 'shadow', 'canary' or 'bandit'"),
    ):
        with pytest.raises(Exception, match=said):
            MlopsModel.resolve_from_yaml(_yaml(tmp_path, serve))


@pytest.mark.slow
def test_a_declared_models_comparison_counts_the_pairs_its_own_service_logged(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # The YAML's relative log_dir resolves from the working directory, as its other paths.
    monkeypatch.chdir(tmp_path)
    train = pd.read_csv(CAR_LOAN / "train.csv").assign(**{ID: np.arange(2000)})
    train.iloc[:100].to_csv(tmp_path / "weak.csv", index=False)
    train.to_csv(tmp_path / "full.csv", index=False)
    (tmp_path / "days").mkdir()
    day = pd.read_csv(CAR_LOAN / "days" / f"{DAY}.csv").assign(**{ID: np.arange(10_000, 10_600)})
    day.to_csv(tmp_path / "days" / f"{DAY}.csv", index=False)
    yaml = _yaml(tmp_path, "serve:\n  log_dir: requests/car_loan\n  mode: shadow\n")
    car_loan = dg.build_defs_for_component(MlopsModel.resolve_from_yaml(yaml))
    defs = dg.Definitions.merge(build_defs(Settings.from_env()), car_loan)
    registry = MlflowRegistry(model_name="car_loan")

    # v1, the champion, learns from 100 loans and scores the day alone: no batch pairs.
    weak = TrainingDataSource(
        location=str(tmp_path / "weak.csv"),
        target_column=TARGET,
        timestamp_column="timestamp",
        id_columns=ID,
    )
    trained = defs.resolve_job_def("car_loan__training_job").execute_in_process(
        instance=project.instance, resources={"car_loan__data_source": weak}
    )
    assert trained.success
    scored = defs.resolve_job_def("car_loan__daily_monitoring_job").execute_in_process(
        partition_key=DAY, instance=project.instance, run_config=QUICK
    )
    assert scored.success
    assert "no version holds `challenger`" in _comparison(project.instance)["nothing_to_compare"]

    # v2 learns from all 2,000; a gate out of reach keeps it as the challenger.
    thin = {"ops": {"car_loan__registered_model_version": {"config": {"min_improvement": 1.0}}}}
    assert (
        defs.resolve_job_def("car_loan__training_job")
        .execute_in_process(instance=project.instance, run_config=thin)
        .success
    )
    aliases = registry.client().get_registered_model("car_loan").aliases
    assert {a: str(v) for a, v in aliases.items()} == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "2"}

    # The model's service, told its model and its YAML's log_dir, serves the day in shadow.
    noon = datetime(2026, 2, 6, 12, tzinfo=UTC)
    with running_service(
        registry, Path("requests/car_loan"), clock=lambda: noon, mode="shadow"
    ) as service:
        wait_ready(service)
        deadline = time.monotonic() + 60
        while service.get("/health").json().get("challenger_version") != "2":
            assert time.monotonic() < deadline, "the challenger was not loaded"
            time.sleep(0.1)
        served = day.drop(columns=[TARGET])
        for start in range(0, len(served), 50):
            chunk = served.iloc[start : start + 50]
            split = json.loads(chunk.to_json(orient="split", index=False, date_format="iso"))
            assert service.post("/invocations", json={"dataframe_split": split}).status_code == 200
        assert len(logged_rows(service, DAY, len(day))) == len(day)
    assert len(list((tmp_path / "requests" / "car_loan" / DAY).glob("*.parquet"))) >= 1

    # The day judged again, as the labels job does: its 600 pairs are the service's.
    judged = defs.resolve_job_def("car_loan__labels_job").execute_in_process(
        partition_key=DAY, instance=project.instance
    )
    assert judged.success
    compared = _comparison(project.instance)
    assert (compared["champion_version"], compared["challenger_version"]) == ("1", "2")
    assert compared["challenger_rows_batch"] == 0
    assert compared["challenger_rows_online"] == 600
    assert compared["challenger_rows"] == 600
    assert "| the service's request log, not in batch | 600 |" in compared["summary"]
