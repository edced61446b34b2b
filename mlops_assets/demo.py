"""`make demo`: the whole loop, in the project-local Dagster instance.

Train a champion, then score daily partitions: on the built-in data, the 20 days that end
yesterday (recorded as the BuiltinCalendar, so `make ui` shows the same days), in which drift
begins on day 8 and each day's labels arrive 3 days later as their own file (the delayed story:
the estimate drops before any label of the drifted days exists, retraining starts once their
labels land, then the estimate and the realized accuracy recover); with MLOPS_SCORING_DATA a
directory of daily files, the days of that directory (labels in the files, or in
MLOPS_LABELS_DATA). After each day the labels sensor and the drift sensor are ticked as the
daemon would tick them, each tick recorded in the instance (sensor_ticks.py); the runs they ask
for execute, and the gate decides whether a retrained model takes over. Your own
training data (MLOPS_TRAINING_DATA) with no scoring directory is trained only: the built-in
batches would not have its columns. The runs stay in the instance so `make ui` shows them.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from mlops_assets.contracts import (
    ESTIMATED_PERFORMANCE_ASSET,
    LABELS_JOB,
    LABELS_SENSOR,
    REALIZED_PERFORMANCE_ASSET,
    DriftVerdict,
    EstimatedVerdict,
    RealizedVerdict,
)
from mlops_assets.domain.data import is_sql_url, redact_url
from mlops_assets.jobs import LABEL_ASSETS
from mlops_assets.resources.data_source import (
    DAILY_FILE_NAME,
    BuiltinCalendar,
    ScoringDataSource,
)
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.resources.project import default_home
from mlops_assets.sensor_ticks import Launch, tick_sensor

DEMO_DAYS = 20
DEMO_DRIFT_DAY = 8
# The built-in data's labels arrive this many days after their day (MLOPS_LABEL_DELAY_DAYS).
DEMO_LABEL_DELAY_DAYS = 3
# The demo prints its own per-day table; Dagster's step-by-step log stays in the run's logs
# (`make ui`), so the console shows only warnings and errors.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# The names ScoringDataSource reads in a scoring directory.


@contextlib.contextmanager
def _mlflow_chatter_hidden():
    """MLflow prints each registration to stderr ("Created version '2' of model ..."), which
    the demo's own lines already say; what was printed is shown if anything fails."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer):
            yield buffer
    except BaseException:
        sys.stderr.write(buffer.getvalue())
        raise


@dataclass
class DayRow:
    day: str
    drifted_share: float
    severity: str
    accuracy: float | None
    """The realized accuracy: on the day with labels in the batch, else when they land."""
    model_version: str
    performance_dropped: bool = False
    event: str = ""
    estimated_accuracy: float | None = None
    estimate_trusted: bool = False
    estimated_dropped: bool = False
    labels_landed_on: str = ""
    """The scored day after which this day's labels landed ("" with labels in the batch)."""
    estimate_error: float | None = None
    awaiting_labels: bool = False
    """Scored without labels, which a label feed is expected to deliver later."""


@dataclass(frozen=True)
class LabelDelivery:
    """The built-in batches' labels, each day's written to `directory` (MLOPS_LABELS_DATA) as
    `D.parquet` `delay_days` after day D, as a label feed would deliver them."""

    directory: Path
    delay_days: int
    source: ScoringDataSource


def run_loop(
    instance: dg.DagsterInstance,
    first_day: date,
    days: int,
    resources: dict[str, object] | None = None,
    log=print,
    run_config: dict | None = None,
    monitoring_config: dict | None = None,
    labels: LabelDelivery | None = None,
    watch_labels: bool = False,
) -> list[DayRow]:
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
    log=print,
    run_config: dict | None = None,
    monitoring_config: dict | None = None,
    labels: LabelDelivery | None = None,
    watch_labels: bool = False,
) -> list[DayRow]:
    """Score the daily partitions `days` in order, ticking the sensors after each.

    With `labels`, day D's labels are written on day D + delay (after that day is scored);
    with `labels` or `watch_labels` (labels delivered to MLOPS_LABELS_DATA by someone else),
    labels_arrival_sensor is ticked after each day and the labels_job runs it asks for execute.
    drift_retraining_sensor is ticked last. After the last day the labels still to come are
    delivered the same way (days pass, none is scored), so the last days' realized accuracy
    shows too. `run_config` goes to every run; `monitoring_config` (e.g. drift_report's
    settings) only to the daily monitoring runs. Returns one row per scored day. Shared by
    `make demo` and the loop tests, so the tests prove what the demo shows.
    """
    from mlops_assets.definitions import defs

    loop = _Loop(defs, instance, resources, log, run_config or {}, labels, watch_labels)
    for scored_day in days:
        row = loop.score(scored_day, monitoring_config or {})
        loop.rows.append(row)
        loop.after_day(scored_day, row)
        log(_format_row(row))
        for line in loop.pending_lines:
            log(line)
        loop.pending_lines.clear()
    if labels is not None and days:
        last = max(days)
        for offset in range(1, labels.delay_days + 1):
            loop.after_day(last + timedelta(days=offset), None)
            for line in loop.pending_lines:
                log(line)
            loop.pending_lines.clear()
    return loop.rows


class _Loop:
    """The state of one demo loop: the rows scored and the lines still to print (the sensors'
    cursors and the runs they launched are in the instance)."""

    def __init__(
        self,
        defs: dg.Definitions,
        instance: dg.DagsterInstance,
        resources: dict[str, object] | None,
        log,
        run_config: dict,
        labels: LabelDelivery | None,
        watch_labels: bool,
    ) -> None:
        self.defs, self.instance, self.resources = defs, instance, resources
        self.log, self.run_config, self.labels = log, run_config, labels
        self.watch_labels = watch_labels or labels is not None
        self.rows: list[DayRow] = []
        self.pending_lines: list[str] = []

    def score(self, scored_day: date, monitoring_config: dict) -> DayRow:
        day = scored_day.isoformat()
        job = self.defs.resolve_job_def("daily_monitoring_job")
        keys = job.asset_layer.selected_asset_keys
        labels_in_job = any(key.to_user_string() in LABEL_ASSETS for key in keys)
        if self.watch_labels and labels_in_job:
            # The definitions loaded with labels in the features (MLOPS_LABELS_DATA unset, as
            # in a test process) but this loop delivers them on their own (labels_job, below):
            # the day's run scores, reports and estimates only.
            result = dg.materialize(
                [self.defs.get_assets_def(key) for key in keys],
                selection=[k for k in keys if k.to_user_string() not in LABEL_ASSETS],
                partition_key=day,
                instance=self.instance,
                resources=self.resources or self.defs.resources,
                run_config={**self.run_config, **monitoring_config},
                raise_on_error=True,
            )
        else:
            result = job.execute_in_process(
                partition_key=day,
                instance=self.instance,
                resources=self.resources,
                run_config={**self.run_config, **monitoring_config},
                raise_on_error=True,
            )
        verdict = DriftVerdict.from_metadata(scored_day, _metadata(result, "drift_report"))
        scored = _metadata(result, "batch_predictions")
        labelled = verdict.performance.n > 0
        row = DayRow(
            day=day,
            drifted_share=verdict.drifted_share,
            severity=verdict.severity,
            accuracy=verdict.performance.day_value
            if labelled and verdict.performance.metric == "accuracy"
            else None,
            model_version=str(scored["model_version"].value),
            performance_dropped=verdict.performance.dropped,
            awaiting_labels=self.watch_labels and not labelled,
        )
        estimated = _optional_metadata(result, ESTIMATED_PERFORMANCE_ASSET)
        if estimated is not None:
            estimate = EstimatedVerdict.from_metadata(scored_day, estimated)
            row.estimated_accuracy = estimate.value if estimate.metric == "accuracy" else None
            row.estimate_trusted = estimate.trusted
            row.estimated_dropped = estimate.trusted and estimate.dropped
        return row

    def after_day(self, today: date, row: DayRow | None) -> None:
        """What happens at the end of `today`: labels due today land, the sensors tick."""
        if self.labels is not None:
            due = today - timedelta(days=self.labels.delay_days)
            if any(r.day == due.isoformat() for r in self.rows):
                self.labels.source.write_builtin_labels(self.labels.directory, due)
        if self.watch_labels:
            for launch in self._tick(LABELS_SENSOR):
                self._run_labels_job(launch, today)
        events: list[str] = []
        for launch in self._tick("drift_retraining_sensor", events):
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
            if not run.success:
                events.append(f"retraining run {run.run_id[:8]} failed (`make ui` shows why)")
                continue
            registered = run.output_for_node("registered_model_version")
            events.append(
                f"retrained -> v{registered.version} "
                f"{'promoted' if registered.promoted else 'rejected'}"
            )
        text = "; ".join(events)
        if row is not None:
            row.event = text
        elif text:
            self.pending_lines.append(f"{today} (no batch scored)  {text[:120]}")

    def _tick(self, sensor_name: str, skips: list[str] | None = None) -> list[Launch]:
        """The runs the sensor's tick launches, its tick recorded in the instance as the
        daemon's would be (sensor_ticks.py): `make ui` shows the skips and the launches."""
        tick = tick_sensor(
            self.defs, self.instance, sensor_name, self.resources or self.defs.resources
        )
        if skips is not None and not tick.launches:
            skips.append(tick.skip_message or "")
        return tick.launches

    def _run_labels_job(self, launch: Launch, today: date) -> None:
        request = launch.request
        result = self.defs.resolve_job_def(LABELS_JOB).execute_in_process(
            partition_key=request.partition_key,
            run_config={**request.run_config, **self.run_config},
            run_id=launch.run_id,
            tags=launch.tags,
            instance=self.instance,
            resources=self.resources,
            raise_on_error=True,
        )
        metadata = _optional_metadata(result, REALIZED_PERFORMANCE_ASSET)
        if metadata is None or request.partition_key is None:
            return
        labelled_day = date.fromisoformat(request.partition_key)
        realized = RealizedVerdict.from_metadata(labelled_day, metadata)
        value = realized.performance.day_value
        row = next((r for r in self.rows if r.day == request.partition_key), None)
        if row is not None and realized.performance.metric == "accuracy":
            row.accuracy = value
            row.performance_dropped = realized.performance.dropped
            row.labels_landed_on = today.isoformat()
            row.estimate_error = realized.estimate_error
        error = (
            ""
            if realized.estimate_error is None
            else f", estimate error {realized.estimate_error:+.3f}"
        )
        shown = "-" if value is None else f"{value:.3f}"
        dropped = ", dropped" if realized.performance.dropped else ""
        self.pending_lines.append(
            f"{'':<11} labels of {labelled_day} landed: realized {realized.performance.metric} "
            f"{shown}{dropped} on {realized.performance.n} rows (v{realized.model_version}){error}"
        )


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


HEADER = (
    f"{'date':<11} {'drift share':>11} {'severity':>9} {'estimate':>9} {'realized':>9} "
    f"{'model':>6}  event"
)


def _format_row(row: DayRow) -> str:
    # The realized accuracy is "later" until the day's labels land (a line says so then).
    realized = "later" if row.accuracy is None and row.estimated_accuracy is not None else "-"
    if row.accuracy is not None:
        realized = f"{row.accuracy:.3f}"
    estimate = "-"
    if row.estimated_accuracy is not None:
        estimate = f"{row.estimated_accuracy:.3f}" + (
            "!" if row.estimated_dropped else "" if row.estimate_trusted else "?"
        )
    return (
        f"{row.day:<11} {row.drifted_share:>11.2f} {row.severity:>9} {estimate:>9} "
        f"{realized:>9} {'v' + row.model_version:>6}  {row.event[:90]}"
    )


class DemoSetupError(ValueError):
    """The environment asks the demo for something it cannot do; the message says what to set."""


@dataclass(frozen=True)
class DemoPlan:
    """What `make demo` trains on and which days it scores, decided from the environment.

    `days` is None for the built-in batches (DEMO_DAYS from the partitions' start), the days of
    the scoring directory's files, or empty: train only, and `train_only` says how to score.
    """

    training: str
    scoring: str
    days: tuple[date, ...] | None
    train_only: str = ""


def scoring_file_days(directory: Path) -> tuple[date, ...]:
    """The days of a scoring directory's files `YYYY-MM-DD.csv` / `.parquet`, sorted."""
    if not directory.is_dir():
        raise DemoSetupError(
            f"{directory}: MLOPS_SCORING_DATA must be a directory of daily files named "
            "YYYY-MM-DD.csv or YYYY-MM-DD.parquet."
        )
    days = set()
    for path in directory.iterdir():
        named = DAILY_FILE_NAME.match(path.name)
        if named:
            try:
                days.add(date.fromisoformat(named.group(1)))
            except ValueError:
                raise DemoSetupError(f"{path}: {named.group(1)} is not a date.") from None
    if not days:
        raise DemoSetupError(
            f"{directory} (MLOPS_SCORING_DATA) holds no daily file named YYYY-MM-DD.csv or "
            f"YYYY-MM-DD.parquet; it holds {sorted(p.name for p in directory.iterdir())[:10]}."
        )
    return tuple(sorted(days))


def plan_demo(env: Mapping[str, str]) -> DemoPlan:
    """Read MLOPS_TRAINING_DATA / MLOPS_SCORING_DATA as the definitions will, before they load."""
    from mlops_assets.resources.data_source import TrainingDataSource

    location = env.get("MLOPS_TRAINING_DATA", "")
    training = TrainingDataSource(
        location=location, table=env.get("MLOPS_TRAINING_TABLE", "")
    ).describe()
    if location:
        training += f", target column {env.get('MLOPS_TARGET_COLUMN', 'default')!r}"
    scoring = env.get("MLOPS_SCORING_DATA", "")
    how_to_score = (
        "set MLOPS_SCORING_DATA to a directory of daily files YYYY-MM-DD.csv or .parquet "
        "(the training columns; with the target column too, the loop also watches accuracy) "
        "and run `make demo` again, or score days from `make ui` (daily_monitoring_job)"
    )
    if is_sql_url(scoring):
        return DemoPlan(
            training,
            f"{redact_url(scoring)} table {env.get('MLOPS_SCORING_TABLE', '')}",
            (),
            "MLOPS_SCORING_DATA is a SQL URL, whose days the demo does not list: score them "
            "with `make ui` (daily_monitoring_job, one partition per day) and, while it runs, "
            "`make backfill FROM=YYYY-MM-DD TO=YYYY-MM-DD` (one run for the range)",
        )
    if scoring:
        directory = Path(scoring).expanduser().resolve()
        return DemoPlan(training, str(directory), scoring_file_days(directory))
    if location:
        # The built-in batches have the built-in columns, not those of the user's table.
        return DemoPlan(training, "", (), f"MLOPS_SCORING_DATA is not set: {how_to_score}")
    return DemoPlan(training, "the built-in daily batches", None)


def main() -> int:
    try:
        plan = plan_demo(os.environ)
    except DemoSetupError as error:
        print(error, file=sys.stderr)
        return 2
    if plan.days:
        # The daily partitions are fixed when the definitions load: start them at the first
        # file unless the user chose a start.
        os.environ.setdefault("MLOPS_SCORING_START", plan.days[0].isoformat())
    watch_labels = bool(os.environ.get("MLOPS_LABELS_DATA"))
    own_labels_directory = None
    if plan.days is None:
        calendar = demo_calendar(os.environ, datetime.now(UTC).date())
        if calendar is not None:
            calendar.write(os.environ)
        # The built-in data tells the delayed story unless the user chose otherwise: set
        # before the definitions load, which read both variables.
        os.environ.setdefault("MLOPS_LABEL_DELAY_DAYS", str(DEMO_LABEL_DELAY_DAYS))
        if int(os.environ["MLOPS_LABEL_DELAY_DAYS"] or 0) > 0 and not watch_labels:
            own_labels_directory = Path(default_home()).expanduser().resolve() / "labels"
            os.environ["MLOPS_LABELS_DATA"] = str(own_labels_directory)
    from mlops_assets.assets.monitoring import daily_partitions
    from mlops_assets.definitions import defs

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    # Read by mlflow when it is first imported (by the first run): its INFO lines and the
    # warning about pip in a uv environment stay out of the demo's table.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    started = time.perf_counter()
    days = _partition_days(plan, daily_partitions)
    if days is not None and not days:
        print(
            f"None of the days in {plan.scoring} is a daily partition (from "
            f"{daily_partitions.start:%Y-%m-%d}, MLOPS_SCORING_START, to yesterday).",
            file=sys.stderr,
        )
        return 2
    steps = 1 if plan.train_only else 2
    with dg.DagsterInstance.get() as instance:
        print(f"1/{steps} training_job on {plan.training} ...")
        with _mlflow_chatter_hidden() as chatter:
            training = defs.resolve_job_def("training_job").execute_in_process(
                instance=instance, run_config=QUIET, raise_on_error=False
            )
        if not training.success:
            sys.stderr.write(chatter.getvalue())
            print(f"training_job failed (run {training.run_id}); `make ui` shows the logs.")
            return 1
        registered = training.output_for_node("registered_model_version")
        print(
            f"    {registered.model_name} v{registered.version}: "
            f"{'champion' if registered.promoted else 'challenger'} "
            f"({time.perf_counter() - started:.0f} s)\n"
        )
        if plan.train_only:
            print(f"Trained only. {plan.train_only}.")
        else:
            assert days is not None  # a plan that scores has its days (_partition_days)
            print(
                f"2/2 scoring {len(days)} days of {plan.scoring} from {days[0]}, "
                "drift sensor ticked after each:"
            )
            print(HEADER)
            labels = _label_delivery(defs, own_labels_directory)
            if labels is not None:
                print(
                    f"    labels of each day land {labels.delay_days} days later in "
                    f"{labels.directory} (MLOPS_LABEL_DELAY_DAYS); estimate: expected "
                    "accuracy before labels ('!' dropped, '?' not trusted)"
                )
            with _mlflow_chatter_hidden():
                run_days(
                    instance,
                    days,
                    run_config=QUIET,
                    labels=labels,
                    watch_labels=watch_labels,
                )
    registry = MlflowRegistry(
        tracking_uri=os.environ.get("MLFLOW_TRACKING_URI", ""), model_name=registered.model_name
    )
    champion = registry.version_by_alias("champion")
    print(
        f"\nDone in {time.perf_counter() - started:.0f} s. Champion: "
        f"{registry.model_name} v{champion.version if champion else '?'}.\n"
        f"  artefacts:     {default_home()}\n"
        f"  MLflow store:  {registry.resolved_tracking_uri}\n"
        "Where to look:\n"
        "  make ui         Dagster UI at http://127.0.0.1:3000 (lineage, runs, checks, metadata)\n"
        "  make mlflow-ui  MLflow UI at http://127.0.0.1:5000 (runs, registry, aliases)\n"
    )
    return 0


def demo_calendar(env: Mapping[str, str], today: date) -> BuiltinCalendar | None:
    """The built-in days the demo scores: DEMO_DAYS ending yesterday (the last complete daily
    partition, where the UI's partition views and plots open), drifted from DEMO_DRIFT_DAY on;
    None when the user fixed either day (MLOPS_SCORING_START, MLOPS_DRIFT_START)."""
    if env.get("MLOPS_SCORING_START") or env.get("MLOPS_DRIFT_START"):
        return None
    return BuiltinCalendar.ending(today - timedelta(days=1), DEMO_DAYS, DEMO_DRIFT_DAY)


def _label_delivery(defs: dg.Definitions, directory: Path | None) -> LabelDelivery | None:
    """The demo's own label feed for the built-in data, into a directory it owns (emptied of
    an earlier demo's deliveries, so every label lands again on its day); None when the user
    delivers labels or keeps them in the batches."""
    if directory is None:
        return None
    configured = (defs.resources or {})["scoring_source"]
    assert isinstance(configured, ScoringDataSource)
    source = configured.process_config_and_initialize()
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.iterdir():
        if DAILY_FILE_NAME.match(path.name):
            path.unlink()
    return LabelDelivery(directory, source.label_delay_days, source)


def _partition_days(plan: DemoPlan, partitions: dg.DailyPartitionsDefinition) -> list[date] | None:
    """The days to score that are partitions; None when the plan trains only."""
    if plan.train_only:
        return None
    if plan.days is None:
        first = date.fromisoformat(partitions.start.strftime("%Y-%m-%d"))
        return [first + timedelta(days=offset) for offset in range(DEMO_DAYS)]
    keys = set(partitions.get_partition_keys())
    days = [day for day in plan.days if day.isoformat() in keys]
    if skipped := [day.isoformat() for day in plan.days if day.isoformat() not in keys]:
        print(f"Skipping {len(skipped)} days outside the daily partitions: {skipped[:5]}")
    return days


if __name__ == "__main__":
    sys.exit(main())
