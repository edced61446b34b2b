"""`make demo`: the whole loop, in the project-local Dagster instance.

Train a champion, then score daily partitions: on the built-in data, 14 days in which drift
begins on day 8; with MLOPS_SCORING_DATA a directory of daily files, the days of that directory.
After each day the drift sensor is ticked exactly as the daemon would tick it; when it asks for a
retraining, that run executes, and the gate decides whether the new model takes over. Your own
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
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from mlops_assets.contracts import DriftVerdict
from mlops_assets.domain.data import is_sql_url, redact_url
from mlops_assets.resources.data_source import DAILY_FILE_NAME
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.resources.project import default_home

DEMO_DAYS = 14
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
    model_version: str
    performance_dropped: bool = False
    event: str = ""


def run_loop(
    instance: dg.DagsterInstance,
    first_day: date,
    days: int,
    resources: dict[str, object] | None = None,
    log=print,
    run_config: dict | None = None,
    monitoring_config: dict | None = None,
) -> list[DayRow]:
    """Score `days` consecutive daily partitions from `first_day` (see `run_days`)."""
    return run_days(
        instance,
        [first_day + timedelta(days=offset) for offset in range(days)],
        resources=resources,
        log=log,
        run_config=run_config,
        monitoring_config=monitoring_config,
    )


def run_days(
    instance: dg.DagsterInstance,
    days: Sequence[date],
    resources: dict[str, object] | None = None,
    log=print,
    run_config: dict | None = None,
    monitoring_config: dict | None = None,
) -> list[DayRow]:
    """Score the daily partitions `days` in order, ticking the sensor after each.

    `run_config` goes to every run; `monitoring_config` (e.g. drift_report's settings) only to
    the daily monitoring runs. Returns one row per day. Shared by `make demo` and the loop
    test, so the test proves what the demo shows.
    """
    from mlops_assets.definitions import defs

    monitoring = defs.resolve_job_def("daily_monitoring_job")
    retraining = defs.resolve_job_def("retraining_job")
    sensor = defs.resolve_sensor_def("drift_retraining_sensor")
    cursor: str | None = None
    seen_run_keys: set[str | None] = set()
    rows: list[DayRow] = []
    for scored_day in days:
        day = scored_day.isoformat()
        result = monitoring.execute_in_process(
            partition_key=day,
            instance=instance,
            resources=resources,
            run_config={**(run_config or {}), **(monitoring_config or {})},
            raise_on_error=True,
        )
        verdict = DriftVerdict.from_metadata(scored_day, _metadata(result, "drift_report"))
        scored = _metadata(result, "batch_predictions")
        row = DayRow(
            day=day,
            drifted_share=verdict.drifted_share,
            severity=verdict.severity,
            accuracy=verdict.performance.day_value
            if verdict.performance.metric == "accuracy"
            else None,
            model_version=str(scored["model_version"].value),
            performance_dropped=verdict.performance.dropped,
        )
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, resources=resources or defs.resources
        ) as context:
            tick = sensor.evaluate_tick(context)
        cursor = tick.cursor
        for request in tick.run_requests or []:
            if request.run_key in seen_run_keys:  # the daemon dedups by run key too
                continue
            seen_run_keys.add(request.run_key)
            run = retraining.execute_in_process(
                run_config={**request.run_config, **(run_config or {})},
                tags=request.tags,
                instance=instance,
                resources=resources,
                raise_on_error=True,
            )
            registered = run.output_for_node("registered_model_version")
            row.event = (
                f"retrained -> v{registered.version} "
                f"{'promoted' if registered.promoted else 'rejected'}"
            )
        if not tick.run_requests:
            row.event = tick.skip_message or ""
        rows.append(row)
        log(_format_row(row))
    return rows


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> Mapping[str, dg.MetadataValue]:
    event = next(
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)
    )
    return event.materialization.metadata


HEADER = f"{'date':<11} {'drift share':>11} {'severity':>9} {'accuracy':>9} {'model':>6}  event"


def _format_row(row: DayRow) -> str:
    accuracy = "-" if row.accuracy is None else f"{row.accuracy:.3f}"
    return (
        f"{row.day:<11} {row.drifted_share:>11.2f} {row.severity:>9} {accuracy:>9} "
        f"{'v' + row.model_version:>6}  {row.event[:90]}"
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
            "with `make ui` (daily_monitoring_job, one partition per day) or `dagster job "
            "backfill -j daily_monitoring_job --from YYYY-MM-DD --to YYYY-MM-DD`",
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
            with _mlflow_chatter_hidden():
                run_days(instance, days, run_config=QUIET)
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
