"""A range of monitoring days in one run (a backfill with BackfillPolicy.single_run()): every
day stays its own partition, one bad day fails only itself, and a retry after an MLflow outage
does each day once."""

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

from mlops_assets.contracts import DRIFT_CHECK
from mlops_assets.defs.monitoring import scoring_partitions
from mlops_assets.defs.monitoring.jobs import monitoring_assets
from mlops_assets.domain.synthetic import generate_daily_batch
from mlops_assets.resources.data_source import ScoringDataSource
from mlops_assets.settings import Settings
from mlops_assets_tests.monitoring_runs import run_day_range

FIRST = date(2026, 1, 2)
DAYS = [(FIRST + timedelta(days=n)).isoformat() for n in range(3)]
ASSETS = [dg.AssetKey(name) for name in monitoring_assets(Settings.from_env({}))]


def _write_day(directory: Path, day: str, *, drop: str | None = None) -> None:
    frame = generate_daily_batch(
        date.fromisoformat(day), n_rows=300, scenario="none", seed=date.fromisoformat(day).day
    )
    frame.drop(columns=[drop] if drop else []).to_csv(directory / f"{day}.csv", index=False)


def _status(project, key: dg.AssetKey) -> dict[str, str]:
    by_partition = project.instance.get_status_by_partition(
        key, DAYS, scoring_partitions(Settings.from_env().scoring_start)
    )
    return {day: status.value if status else "missing" for day, status in by_partition.items()}


def _failure(result: dg.ExecuteInProcessResult) -> str:
    (event,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    return event.step_failure_data.error.message


def test_one_bad_day_of_a_range_fails_only_itself_and_re_runs_alone(trained, tmp_path):
    directory = tmp_path / "daily"
    directory.mkdir()
    for day in DAYS:
        _write_day(directory, day, drop="income" if day == DAYS[1] else None)
    resources = trained.resources(scoring_source=ScoringDataSource(location=str(directory)))

    result = run_day_range(trained, resources, DAYS[0], DAYS[-1])

    assert not result.success
    message = _failure(result)
    assert "1 of 3 days failed" in message and f"{DAYS[1]} (scoring_data)" in message
    assert "income" in message  # the day's own error, naming the column
    for key in ASSETS:
        # Materialised, failed, materialised: Dagster's partition status, as the UI shows it.
        assert _status(trained, key) == {
            DAYS[0]: "MATERIALIZED",
            DAYS[1]: "FAILED",
            DAYS[2]: "MATERIALIZED",
        }, key
    # Each day's checks are evaluated on that day's partition.
    evaluations = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    drift = sorted(e.partition for e in evaluations if e.check_name == DRIFT_CHECK)
    assert drift == [DAYS[0], DAYS[2]]
    failed_check = [e for e in evaluations if e.partition == DAYS[1]]
    assert [e.passed for e in failed_check] == [False]  # scoring_data_conforms, naming the file
    assert str(directory / f"{DAYS[1]}.csv") in failed_check[0].metadata["failure_cases"].value

    # Fixed, the failed day re-runs alone; the others are left as they were.
    before = {day: _stored_mtime(trained, day) for day in (DAYS[0], DAYS[2])}
    _write_day(directory, DAYS[1])
    again = run_day_range(trained, resources, DAYS[1], DAYS[1])
    assert again.success
    assert {e.partition for e in again.get_asset_materialization_events()} == {DAYS[1]}
    for key in ASSETS:
        assert set(_status(trained, key).values()) == {"MATERIALIZED"}, key
    assert {day: _stored_mtime(trained, day) for day in (DAYS[0], DAYS[2])} == before


def _stored_mtime(project, day: str) -> int:
    return (project.home / "assets" / "batch_predictions" / f"{day}.parquet").stat().st_mtime_ns


class FlakyScoringSource(ScoringDataSource):
    """The built-in data, whose second day's read fails once as an unreachable server would."""

    marker: str

    def load_day(self, day: date, text_columns=()) -> pd.DataFrame:
        if day.isoformat() == DAYS[1] and not Path(self.marker).exists():
            Path(self.marker).touch()
            raise ConnectionError("connection refused")
        return super().load_day(day, text_columns=text_columns)


def test_a_retried_range_does_each_day_once(trained, tmp_path):
    marker = tmp_path / "failed-once"
    resources = trained.resources(scoring_source=FlakyScoringSource(marker=str(marker)))

    result = run_day_range(trained, resources, DAYS[0], DAYS[-1])

    assert result.success and marker.exists()
    retries = [
        e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
    ]
    assert len(retries) == 1
    done = [(e.asset_key, e.partition) for e in result.get_asset_materialization_events()]
    assert sorted(done) == sorted((key, day) for key in ASSETS for day in DAYS)
