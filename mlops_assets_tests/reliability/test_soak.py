"""Soak: 60 daily partitions through scoring, batch prediction and drift, one run per day, with
the drift sensor ticked after each day as the daemon ticks it (`demo.run_loop`, the code path
of `make demo`). Every partition is materialised exactly once, the process neither grows in
memory nor leaks file descriptors from run to run, and the sensor starts exactly the
retrainings its policy implies: one, after the drift that begins on day 21."""

from __future__ import annotations

import os
from datetime import date, timedelta

import dagster as dg
import pytest

from mlops_assets.contracts import TRIGGER_PARTITION_TAG
from mlops_assets.defs.retraining.sensors import RetrainingSettings
from mlops_assets.domain.retraining import DayVerdict, planned_retrainings
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
from mlops_assets.tools.demo import DayRow, run_loop

FIRST_DAY = date(2026, 1, 2)
DAYS = 60
DRIFT_START = FIRST_DAY + timedelta(days=20)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
NO_HTML = {"ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}}
MONITORED = ("scoring_data", "batch_predictions", "drift_report")


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _expected_triggers(rows: list[DayRow], settings: RetrainingSettings) -> list[str]:
    """Replay the sensor's policy over the reports the loop produced: the days on which it
    must have launched a retraining (each retraining ran, and succeeded, before the next day)."""
    verdicts = [
        DayVerdict(date.fromisoformat(r.day), r.severity, r.performance_dropped) for r in rows
    ]
    return [d.window_end.isoformat() for d in planned_retrainings(verdicts, settings)]


@pytest.mark.slow
def test_sixty_days_with_the_sensor_on_materialise_once_without_leaks(project):
    training = TrainingDataSource(synthetic_rows=3000)
    scoring = ScoringDataSource(rows_per_day=500, drift_start=DRIFT_START.isoformat())
    assert project.train(data_source=training).success
    resources = project.resources(data_source=training, scoring_source=scoring)

    samples: list[tuple[int, int]] = []
    rows = run_loop(
        project.instance,
        FIRST_DAY,
        DAYS,
        resources=resources,
        log=lambda _: samples.append((_rss_kib(), _open_fds())),
        run_config=QUIET,
        monitoring_config=NO_HTML,
    )
    assert len(rows) == len(samples) == DAYS

    # Exactly once: one materialisation of each monitored asset per daily partition.
    days = [(FIRST_DAY + timedelta(days=i)).isoformat() for i in range(DAYS)]
    for asset in MONITORED:
        records = project.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=days),
            limit=DAYS * 2,
        ).records
        partitions = sorted(r.asset_materialization.partition for r in records)
        assert partitions == days, asset
    runs = project.instance.get_runs(dg.RunsFilter(job_name="daily_monitoring_job"))
    assert len(runs) == DAYS and {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}

    # The sensor launched exactly what its policy implies for these reports: one retraining,
    # once the drift was real, not on a clean day.
    expected = _expected_triggers(rows, RetrainingSettings())
    retrainings = project.instance.get_runs(dg.RunsFilter(job_name="retraining_job"))
    assert sorted(r.tags[TRIGGER_PARTITION_TAG] for r in retrainings) == expected
    assert len(expected) == 1 and expected[0] > DRIFT_START.isoformat()
    assert {r.status for r in retrainings} == {dg.DagsterRunStatus.SUCCESS}

    # Flat: memory within 20 % and file descriptors within a few from day 10 to day 60.
    (rss_10, fds_10), (rss_60, fds_60) = samples[9], samples[-1]
    assert rss_60 <= rss_10 * 1.2, [s[0] for s in samples]
    assert fds_60 <= fds_10 + 3, [s[1] for s in samples]
