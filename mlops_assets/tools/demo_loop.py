"""The daily loop `make demo` runs, shared with the loop tests so they prove what the demo shows.

Each day is scored by `daily_monitoring_job` (its own name in the run list, as the schedule's
runs have); after each, the labels sensor and the drift sensor are ticked as the daemon ticks
them (sensor_ticks.py) and the runs they ask for execute under their own job names. A day that
cannot be scored (a file missing a column) fails alone: its row says why and the loop goes on,
as a backfill's other days do. Dagster's console logger is quiet (QUIET): every failure is said
once, by the row, with the run to open; the run's log in the instance keeps the stack trace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from mlops_assets.asset_keys import ESTIMATED_PERFORMANCE_ASSET, REALIZED_PERFORMANCE_ASSET
from mlops_assets.contracts import (
    LABELS_JOB,
    LABELS_SENSOR,
    REASON_TAG,
)
from mlops_assets.defs.monitoring.jobs import LABEL_ASSETS
from mlops_assets.defs.retraining.sensors import DECISION_METADATA
from mlops_assets.domain.demo_table import DayRow, Happening
from mlops_assets.domain.verdicts import DriftVerdict, EstimatedVerdict, Metric, RealizedVerdict
from mlops_assets.resources.data_source import ScoringDataSource
from mlops_assets.tools.sensor_ticks import Launch, tick_sensor

# Dagster's console logger prints nothing in the demo: the table says what happened, each
# failure once (failure_message); the full log, warnings and stack traces included, is the
# run's, in the instance (`make ui` -> Runs).
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
DRIFT_SENSOR = "drift_retraining_sensor"


@dataclass(frozen=True)
class LabelDelivery:
    """The built-in batches' labels, each day's written to `directory` (MLOPS_LABELS_DATA) as
    `D.parquet` `delay_days` after day D, as a label feed would deliver them."""

    directory: Path
    delay_days: int
    source: ScoringDataSource


class LoopResult(list[DayRow]):
    """The rows of the scored days (a list), and what happened after the last one."""

    def __init__(self, rows: Sequence[DayRow] = (), after_last: Sequence[Happening] = ()):
        super().__init__(rows)
        self.after_last = list(after_last)


def run_loop(
    instance: dg.DagsterInstance,
    first_day: date,
    days: int,
    resources: dict[str, object] | None = None,
    log: Callable[[str], object] = print,
    run_config: dict | None = None,
    monitoring_config: dict | None = None,
    labels: LabelDelivery | None = None,
    watch_labels: bool = False,
) -> LoopResult:
    """Score `days` consecutive daily partitions from `first_day` (see `run_days`)."""
    return run_days(
        instance,
        [first_day + timedelta(days=offset) for offset in range(days)],
        resources=resources,
        log=log,
        run_config=run_config,
        monitoring_config=monitoring_config,
        labels=labels,
        watch_labels=watch_labels,
    )


def run_days(
    instance: dg.DagsterInstance,
    days: Sequence[date],
    resources: dict[str, object] | None = None,
    log: Callable[[str], object] = print,
    run_config: dict | None = None,
    monitoring_config: dict | None = None,
    labels: LabelDelivery | None = None,
    watch_labels: bool = False,
) -> LoopResult:
    """Score the daily partitions `days` in order, ticking the sensors after each.

    With `labels`, day D's labels are written on day D + delay (after that day is scored);
    with `labels` or `watch_labels` (labels delivered to MLOPS_LABELS_DATA by someone else),
    labels_arrival_sensor is ticked after each day and the labels_job runs it asks for execute.
    drift_retraining_sensor is ticked last. After the last day the labels still to come are
    delivered the same way (days pass, none is scored), so the last days' realized accuracy
    shows too. `run_config` goes to every run; `monitoring_config` (e.g. drift_report's
    settings) only to the daily monitoring runs. `log` gets one progress line per day.
    Returns one row per day (a failed day's row has its `failure`).
    """
    from mlops_assets.definitions import defs

    loop = _Loop(defs, instance, resources, run_config or {}, labels, watch_labels)
    for scored_day in days:
        row = loop.score(scored_day, monitoring_config or {})
        loop.rows.append(row)
        loop.after_day(scored_day, row.happenings)
        log(progress_line(row, loop.landed))
        loop.landed.clear()
    after_last: list[Happening] = []
    if labels is not None and days:
        last = max(days)
        for offset in range(1, labels.delay_days + 1):
            loop.after_day(last + timedelta(days=offset), after_last)
        if loop.landed:
            log(f"{'':<11}then labels landed for {', '.join(loop.landed)}")
    return LoopResult(loop.rows, after_last)


def progress_line(row: DayRow, landed: Sequence[str]) -> str:
    """What `make demo` prints as each day is done: the table comes at the end."""
    if row.failure:
        done = "FAILED (see the table)"
    else:
        done = f"scored by v{row.model_version}, drift {row.severity}"
    extra = f"; labels landed for {', '.join(landed)}" if landed else ""
    retrained = [h.summary for h in row.happenings if h.summary.startswith("retrain")]
    return f"  {row.day} {done}{extra}" + (f"; {'; '.join(retrained)}" if retrained else "")


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The first failed step's error, as its author wrote it (a dg.Failure's description names
    the file, column and what to do), on one line, with the run to open for the rest."""
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        error = event.step_failure_data.error
        while error is not None and error.cls_name == "DagsterExecutionStepExecutionError":
            error = error.cause
        if error is None:
            break
        message = " ".join(error.message.split())
        message = re.sub(r"^[\w.]*\b(Failure): ", "", message)
        message = re.sub(r"^[a-z_][\w]*(\.[\w]+)+\.(\w+): ", r"\2: ", message)
        return f"{message} (run {result.run_id[:8]}: `make ui` -> Runs)"
    return f"run {result.run_id[:8]} failed (`make ui` -> Runs shows why)"


class _Loop:
    """The state of one demo loop: the rows scored and the days whose labels landed since the
    last progress line (the sensors' cursors and the runs they launched are in the instance)."""

    def __init__(
        self,
        defs: dg.Definitions,
        instance: dg.DagsterInstance,
        resources: dict[str, object] | None,
        run_config: dict,
        labels: LabelDelivery | None,
        watch_labels: bool,
    ) -> None:
        self.defs, self.instance, self.resources = defs, instance, resources
        self.run_config, self.labels = run_config, labels
        self.watch_labels = watch_labels or labels is not None
        self.rows: list[DayRow] = []
        self.landed: list[str] = []

    def score(self, scored_day: date, monitoring_config: dict) -> DayRow:
        day = scored_day.isoformat()
        job = self.defs.resolve_job_def("daily_monitoring_job")
        keys = job.asset_layer.selected_asset_keys
        # The job holds the label assets when the definitions loaded with labels in the
        # features (MLOPS_LABELS_DATA unset at import, as in a test process) but this loop
        # delivers them on their own (labels_job, below): the day's run scores, reports and
        # estimates only, still as daily_monitoring_job.
        if self.watch_labels and any(key.to_user_string() in LABEL_ASSETS for key in keys):
            # Subset before binding this loop's resources: Dagster rebuilds a subset with the
            # job's own resources, which a test's resources would conflict with.
            job = job.get_subset(
                asset_selection={key for key in keys if key.to_user_string() not in LABEL_ASSETS}
            )
        result = job.execute_in_process(
            partition_key=day,
            instance=self.instance,
            resources=self.resources,
            run_config={**self.run_config, **monitoring_config},
            raise_on_error=False,
        )
        if not result.success:
            return DayRow(day, None, "failed", None, "", failure=failure_message(result))
        verdict = DriftVerdict.from_metadata(scored_day, _metadata(result, "drift_report"))
        scored = _metadata(result, "batch_predictions")
        labelled = verdict.performance.n > 0
        row = DayRow(
            day=day,
            drifted_share=verdict.drifted_share,
            severity=verdict.severity,
            accuracy=verdict.performance.day_value
            if labelled and verdict.performance.metric == Metric.ACCURACY
            else None,
            model_version=str(scored["model_version"].value),
            performance_dropped=verdict.performance.dropped,
            awaiting_labels=self.watch_labels and not labelled,
        )
        estimated = _optional_metadata(result, ESTIMATED_PERFORMANCE_ASSET)
        if estimated is not None:
            estimate = EstimatedVerdict.from_metadata(scored_day, estimated)
            row.estimated_accuracy = estimate.value if estimate.metric == Metric.ACCURACY else None
            row.estimate_trusted = estimate.trusted
            row.estimated_dropped = estimate.trusted and estimate.dropped
        return row

    def after_day(self, today: date, happenings: list[Happening]) -> None:
        """What happens at the end of `today`: labels due today land, the sensors tick; what
        they did goes to `happenings`."""
        if self.labels is not None:
            due = today - timedelta(days=self.labels.delay_days)
            if any(r.day == due.isoformat() and not r.failure for r in self.rows):
                self.labels.source.write_builtin_labels(self.labels.directory, due)
        if self.watch_labels:
            for launch in self._tick(LABELS_SENSOR).launches:
                self._run_labels_job(launch, today)
        tick = self._tick(DRIFT_SENSOR)
        if not tick.launches and tick.skip_message:
            reason = tick.skip_message.removeprefix(f"{today.isoformat()}: ")
            happenings.append(Happening("no retraining", reason))
        # The launch's whole reason, as the sensor wrote it on drift_report (the run's
        # mlops/reason tag is cut at 200 characters).
        decisions = [
            str(event.metadata[DECISION_METADATA].value)
            for event in tick.asset_events
            if isinstance(event, dg.AssetObservation) and DECISION_METADATA in event.metadata
        ]
        for launch in tick.launches:
            happenings.append(self._retrain(launch, decisions[-1] if decisions else ""))

    def _retrain(self, launch: Launch, decision: str) -> Happening:
        run = self.defs.resolve_job_def("retraining_job").execute_in_process(
            run_config={**launch.request.run_config, **self.run_config},
            run_id=launch.run_id,
            tags=launch.tags,
            instance=self.instance,
            resources=self.resources,
            # A failed retraining is part of the story (the sensor retries it, bounded),
            # not the end of the demo.
            raise_on_error=False,
        )
        why = decision or launch.tags.get(REASON_TAG, "")
        if not run.success:
            return Happening(
                "retraining failed", f"{failure_message(run)}; it was started for {why}"
            )
        registered = run.output_for_node("registered_model_version")
        verdict = {
            "promoted": "promoted",
            "challenger": "the challenger (not provably better or worse)",
        }.get(registered.outcome, "rejected by the gate")
        return Happening(f"retrained -> v{registered.version} {verdict}", why)

    def _tick(self, sensor_name: str):
        """The sensor's tick, recorded in the instance as the daemon's would be
        (sensor_ticks.py): `make ui` shows the skips and the launches."""
        return tick_sensor(
            self.defs, self.instance, sensor_name, self.resources or self.defs.resources
        )

    def _run_labels_job(self, launch: Launch, today: date) -> None:
        request = launch.request
        result = self.defs.resolve_job_def(LABELS_JOB).execute_in_process(
            partition_key=request.partition_key,
            run_config={**request.run_config, **self.run_config},
            run_id=launch.run_id,
            tags=launch.tags,
            instance=self.instance,
            resources=self.resources,
            raise_on_error=False,
        )
        row = next((r for r in self.rows if r.day == request.partition_key), None)
        if not result.success:
            if row is not None:
                row.happenings.append(
                    Happening(f"labels failed on {today}", failure_message(result))
                )
            return
        metadata = _optional_metadata(result, REALIZED_PERFORMANCE_ASSET)
        if metadata is None or request.partition_key is None:
            return
        realized = RealizedVerdict.from_metadata(
            date.fromisoformat(request.partition_key), metadata
        )
        self.landed.append(request.partition_key)
        if row is not None and realized.performance.metric == Metric.ACCURACY:
            row.accuracy = realized.performance.day_value
            row.performance_dropped = realized.performance.dropped
            row.labels_landed_on = today.isoformat()
            row.estimate_error = realized.estimate_error
            row.awaiting_labels = False


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> Mapping[str, dg.MetadataValue]:
    found = _optional_metadata(result, asset)
    if found is None:
        raise KeyError(f"run {result.run_id} did not materialise {asset}")
    return found


def _optional_metadata(
    result: dg.ExecuteInProcessResult, asset: str
) -> Mapping[str, dg.MetadataValue] | None:
    event = next(
        (e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)),
        None,
    )
    return None if event is None else event.materialization.metadata
