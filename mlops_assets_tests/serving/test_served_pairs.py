"""challenger_comparison counts the service's logged shadow pairs: a day the batch scored before
a challenger existed (no batch pairs), then served by the real service in shadow mode with v2
as the challenger, is judged on the service's rows joined with the day's labels."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.asset_keys import CHALLENGER_COMPARISON, SCORING_DATA
from mlops_assets.contracts import CHALLENGER_PREDICTION_COLUMN, CHAMPION_PREDICTION_COLUMN
from mlops_assets.resources.data_source import LabelsDataSource
from mlops_assets.resources.io_managers import asset_path
from mlops_assets_tests.assets.test_challenger_shadow import (
    SCORING,
    SMALL,
    SMALLER,
    set_role_by_hand,
)
from mlops_assets_tests.monitoring_runs import QUICK
from mlops_assets_tests.serving.conftest import logged_rows, running_service, wait_ready

pytestmark = pytest.mark.slow

DAY = "2026-01-05"
ID, TARGET = "application_id", "default"


def _comparison(project) -> dict:
    records = project.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=CHALLENGER_COMPARISON, asset_partitions=[DAY]), limit=1
    ).records
    return {k: getattr(v, "value", v) for k, v in records[0].asset_materialization.metadata.items()}


def test_the_services_logged_pairs_are_judged_when_the_batch_has_none(project, tmp_path):
    from mlops_assets.definitions import defs

    assert project.train(data_source=SMALL).success
    assert project.train(data_source=SMALLER).success
    # The gate keeps the second fit as the challenger: retired until the day is scored.
    assert project.registry().version_by_alias("champion").version == "1"
    if project.registry().version_by_alias("challenger") is not None:
        set_role_by_hand(project, "2", "none")
    requests = tmp_path / "requests"
    resources = project.resources(
        data_source=SMALL,
        scoring_source=SCORING,
        labels_source=LabelsDataSource(request_log=str(requests)),
    )
    # The day is scored while v1 is alone: its batch has no challenger column.
    assert (
        defs.resolve_job_def("daily_monitoring_job")
        .execute_in_process(
            partition_key=DAY, instance=project.instance, resources=resources, run_config=QUICK
        )
        .success
    )
    assert "no version holds `challenger`" in _comparison(project)["nothing_to_compare"]

    # v2 becomes the challenger; the service serves the day's rows in shadow mode.
    set_role_by_hand(project, "2", "challenger")
    day = pd.read_parquet(asset_path(SCORING_DATA, DAY))
    noon = datetime(2026, 1, 5, 12, tzinfo=UTC)
    with running_service(
        project.registry(), requests, clock=lambda: noon, mode="shadow"
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
        # One id sent twice: counted once.
        split = json.loads(served.iloc[:1].to_json(orient="split", index=False, date_format="iso"))
        assert service.post("/invocations", json={"dataframe_split": split}).status_code == 200
        logged = logged_rows(service, DAY, len(day) + 1)
    assert len(logged) == len(day) + 1

    # The labels (with the features, for the built-in data) judge the service's pairs.
    assert (
        defs.resolve_job_def("labels_job")
        .execute_in_process(partition_key=DAY, instance=project.instance, resources=resources)
        .success
    )
    judged = _comparison(project)
    assert (judged["champion_version"], judged["challenger_version"]) == ("1", "2")
    assert judged["challenger_rows_batch"] == 0
    assert judged["challenger_rows_online"] == len(day)
    assert judged["challenger_rows"] == len(day)
    first = logged.drop_duplicates(ID).merge(day[[ID, TARGET]], on=ID)
    truth = first[TARGET].astype(str)
    champion = (first[CHAMPION_PREDICTION_COLUMN].astype(str) != truth).to_numpy(float)
    challenger = (first[CHALLENGER_PREDICTION_COLUMN].astype(str) != truth).to_numpy(float)
    assert judged["challenger_effect"] == pytest.approx(np.mean(champion - challenger), abs=1e-4)
    assert judged["champion_accuracy"] == pytest.approx(1 - champion.mean(), abs=1e-4)
    assert "| the service's request log, not in batch | 600 |" in judged["summary"]


def test_a_log_that_cannot_give_pairs_is_named_and_leaves_the_batch_alone(tmp_path):
    """A request log written by a service without challenger columns (champion mode before
    they existed): the day is judged on the batch alone and says why the log was not used."""
    from datetime import date

    from mlops_assets.defs.monitoring.comparison import _served_pairs

    (tmp_path / DAY).mkdir()
    pd.DataFrame({ID: [1, 2], "__served_prediction__": [0, 1]}).to_parquet(
        tmp_path / DAY / "120000.000000-host-1-000000.parquet"
    )
    source = LabelsDataSource(request_log=str(tmp_path))
    assert source.served_day(date(2026, 1, 6)) is None  # no directory: nothing logged
    labels = pd.DataFrame({ID: [1, 2], TARGET: [0, 1]})
    pairs, note = _served_pairs(source, DAY, labels, [ID], TARGET, "1", "2", "zero_one")
    assert pairs.empty
    assert "the service's log is not used" in note and "__champion_prediction__" in note
    pairs, note = _served_pairs(source, DAY, labels, [ID], TARGET, "1", "2", "brier")
    assert pairs.empty and "brier loss needs probabilities" in note
