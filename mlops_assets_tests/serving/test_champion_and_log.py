"""The service follows `champion` under load without a failed request, and its request log is
a scoring source: read back as a day's batch, it goes through daily_monitoring_job into a
drift report."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, date, datetime

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.contracts import (
    REQUEST_ID_COLUMN,
    SERVED_AT_COLUMN,
    SERVED_MODEL_VERSION_COLUMN,
    SERVED_PREDICTION_COLUMN,
)
from mlops_assets.domain import synthetic
from mlops_assets.domain.data import temp_files
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
from mlops_assets_tests.serving.conftest import running_service, wait_ready

POLL_SECONDS = 1.0
THREADS, REQUESTS_PER_THREAD = 4, 75
DAY = date(2026, 1, 12)  # a drifted day of the built-in scenario (drift from 2026-01-09)


def _payload(seed: int, n: int = 5, day: date = DAY) -> dict:
    rows = synthetic.generate_daily_batch(
        day, n_rows=n, scenario="both", drift_start=date(2026, 1, 9), seed=seed, with_labels=False
    )
    return {
        "dataframe_split": json.loads(rows.to_json(orient="split", index=False, date_format="iso"))
    }


@pytest.fixture(scope="module")
def two_versions(trained):  # type: ignore[no-untyped-def]
    """The module's project with a second registered version (champion or challenger)."""
    again = trained.train(data_source=TrainingDataSource(synthetic_rows=2500, synthetic_seed=7))
    assert again.success
    assert [v.version for v in trained.registry().versions()] == ["1", "2"]
    return trained


def test_an_alias_move_under_load_fails_no_request_and_swaps_within_one_poll(
    two_versions, tmp_path
):
    from mlops_assets.definitions import defs

    registry = two_versions.registry()
    before = registry.version_by_alias("champion")
    assert before is not None
    target = "1" if before.version == "2" else "2"
    with running_service(registry, tmp_path / "log", poll_seconds=POLL_SECONDS) as service:
        wait_ready(service)
        seen: list[list[tuple[float, int, str]]] = [[] for _ in range(THREADS)]
        moved_at: list[float] = []

        def client(index: int) -> None:
            import requests

            with requests.Session() as session:
                for i in range(REQUESTS_PER_THREAD):
                    answer = session.post(
                        service.url + "/invocations", json=_payload(index * 1000 + i), timeout=30
                    )
                    seen[index].append(
                        (time.monotonic(), answer.status_code, answer.headers["X-Model-Version"])
                    )
                    # Paced so the load spans the move and the poll after it.
                    time.sleep(0.02)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        moved = defs.resolve_job_def("promote_version_job").execute_in_process(
            instance=two_versions.instance,
            resources=two_versions.resources(),
            run_config={
                "ops": {
                    "promote_version": {
                        "config": {
                            "version": target,
                            "reason": "serving test",
                            "requested_by": "test",
                        }
                    }
                }
            },
        )
        moved_at.append(time.monotonic())
        assert moved.success
        for thread in threads:
            thread.join(timeout=120)
        served = service.watcher.current
        assert served is not None

    answers = [a for per_thread in seen for a in per_thread]
    assert len(answers) == THREADS * REQUESTS_PER_THREAD
    assert {status for _, status, _ in answers} == {200}
    assert {version for _, _, version in answers} == {before.version, target}
    # Each client sees the old version, then the new one, never the old one again.
    for per_thread in seen:
        versions = [v for _, _, v in per_thread]
        first_new = versions.index(target)
        assert set(versions[first_new:]) == {target}
    first_answer_of_new = min(t for t, _, v in answers if v == target)
    # The move is seen at the next poll; the new version then takes its load time to swap in.
    assert first_answer_of_new - moved_at[0] <= POLL_SECONDS + served.load_seconds + 0.5
    assert served.version == target


def test_the_request_log_is_read_back_as_a_scoring_partition_with_a_drift_report(trained, tmp_path):
    log = tmp_path / "requests"
    champion = trained.registry().version_by_alias("champion")
    assert champion is not None
    served_at = datetime(DAY.year, DAY.month, DAY.day, 13, 30, tzinfo=UTC)
    with running_service(
        trained.registry(), log, clock=lambda: served_at, flush_rows=200, flush_seconds=60
    ) as service:
        wait_ready(service)
        for seed in range(12):  # 600 rows: three parts at 200 rows, flushed by size
            assert service.post("/invocations", json=_payload(seed, n=50)).status_code == 200
        deadline = time.monotonic() + 30
        while len(list((log / DAY.isoformat()).glob("*.parquet"))) < 3:
            assert time.monotonic() < deadline, "no part written at the size bound"
            time.sleep(0.05)
    # Shut down: whatever was still in memory was written too; no temp file is left.
    day_directory = log / DAY.isoformat()
    parts = sorted(day_directory.glob("*.parquet"))
    assert not [p for p in day_directory.iterdir() if p.suffix != ".parquet"]
    assert all(not temp_files(p) for p in parts)
    logged = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    assert len(logged) == 600
    assert set(logged[SERVED_MODEL_VERSION_COLUMN]) == {champion.version}
    assert logged[SERVED_AT_COLUMN].dt.tz is not None
    assert logged[REQUEST_ID_COLUMN].nunique() == 12
    assert logged[SERVED_PREDICTION_COLUMN].isin([0, 1]).all()

    source = ScoringDataSource(location=str(log))
    day_batch = source.load_day(DAY)
    assert len(day_batch) == 600
    from mlops_assets.definitions import defs

    result = defs.resolve_job_def("daily_monitoring_job").execute_in_process(
        partition_key=DAY.isoformat(),
        instance=trained.instance,
        resources=trained.resources(scoring_source=source),
        run_config={
            "ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}
        },
    )
    assert result.success
    materialized = {e.asset_key: e for e in result.get_asset_materialization_events()}
    scored = materialized[dg.AssetKey("scoring_data")].materialization.metadata
    assert scored["dagster/row_count"].value == 600
    assert scored["source"].value == str(day_directory)
    report = materialized[dg.AssetKey("drift_report")].materialization.metadata
    assert report["model_version"].value == champion.version
    # The built-in scenario's drifted day, seen through online traffic.
    assert report["severity"].value in ("warning", "critical")
    assert report["drifted_share"].value > 0
