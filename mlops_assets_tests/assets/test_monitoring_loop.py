"""The loop the product exists for, shortened: clean days, drift, a sensor-started retraining,
a better champion, recovered accuracy. Same code path as `make demo` (`demo.run_loop`)."""

from datetime import date, timedelta

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlops_assets.assets.monitoring import MODEL_VERSION_KEY, TRAINING_DATA_HASH_KEY
from mlops_assets.demo import run_loop
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
from mlops_assets.resources.io_managers import asset_path
from mlops_assets.resources.mlflow_registry import CHAMPION

FIRST_DAY = date(2026, 1, 2)
DRIFT_START = FIRST_DAY + timedelta(days=3)


@pytest.fixture
def loop(project):
    resources = project.resources(
        data_source=TrainingDataSource(synthetic_rows=3000),
        scoring_source=ScoringDataSource(drift_start=DRIFT_START.isoformat()),
    )
    assert project.train(data_source=TrainingDataSource(synthetic_rows=3000)).success
    rows = run_loop(project.instance, FIRST_DAY, 8, resources=resources, log=lambda _: None)
    return project, rows


def test_drift_loop_retrains_once_and_recovers(loop):
    project, rows = loop
    clean, drifted = rows[:3], rows[3:5]
    assert all(r.severity != "critical" for r in clean)
    assert all("retrained" not in r.event for r in clean)
    assert all(r.severity == "critical" or r.performance_dropped for r in drifted)
    retrain_days = [r.day for r in rows if "retrained" in r.event]
    assert retrain_days == [(DRIFT_START + timedelta(days=1)).isoformat()]
    assert "promoted" in rows[4].event

    # After the retraining the new champion scores, and accuracy is back.
    after = rows[5:]
    assert {r.model_version for r in rows[:5]} == {"1"}
    assert {r.model_version for r in after} == {"2"}
    old_model_on_drift = sum(r.accuracy for r in drifted) / len(drifted)
    new_model_on_drift = sum(r.accuracy for r in after) / len(after)
    assert new_model_on_drift > old_model_on_drift + 0.03
    assert project.registry().version_by_alias(CHAMPION).version == "2"

    # The retraining run says why it ran.
    (run,) = project.instance.get_runs(dg.RunsFilter(job_name="retraining_job"))
    assert run.tags["mlops/triggered_by_drift_report"] == rows[4].day


def test_every_prediction_traces_to_a_model_version_and_training_data(loop):
    project, rows = loop
    path = asset_path(dg.AssetKey("batch_predictions"), rows[-1].day)
    footer = pq.read_schema(path).metadata
    assert footer[MODEL_VERSION_KEY.encode()] == b"2"
    predictions = pd.read_parquet(path)
    champion = project.registry().version_by_alias(CHAMPION)
    assert set(predictions["model_version"]) == {"2"}
    assert set(predictions["training_data_hash"]) == {champion.tags["data_hash"]}
    assert footer[TRAINING_DATA_HASH_KEY.encode()].decode() == champion.tags["data_hash"]
    assert len(predictions) == 1000
