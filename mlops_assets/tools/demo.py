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

It prints a line per day as it goes, then the table (domain/demo_table.py) once the last
labels have landed. A day that cannot be scored (a file missing a column) fails alone: its row
says so, the other days are scored, and the demo ends with the failed days and why, once each,
and exit status 1. Dagster's own console log stays quiet; the runs' logs are in the instance.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import textwrap
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from mlops_assets.domain.data import is_sql_url, redact_url
from mlops_assets.domain.demo_table import (
    WIDTH,
    DayRow,
    failure_summary,
    legend,
    render_table,
)
from mlops_assets.resources.data_source import (
    DAILY_FILE_NAME,
    BuiltinCalendar,
    ScoringDataSource,
)
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.resources.project import default_home
from mlops_assets.tools.demo_loop import (
    QUIET,
    LabelDelivery,
    LoopResult,
    failure_message,
    run_days,
    run_loop,
)

# The loop and its rows, for the tests that run what the demo runs.
__all__ = ["DayRow", "LabelDelivery", "run_days", "run_loop"]

DEMO_DAYS = 20
DEMO_DRIFT_DAY = 8
# The built-in data's labels arrive this many days after their day (MLOPS_LABEL_DELAY_DAYS).
DEMO_LABEL_DELAY_DAYS = 3


class DemoSetupError(ValueError):
    """The environment asks the demo for something it cannot do; the message says what to set."""


@contextlib.contextmanager
def _mlflow_chatter_hidden():
    """MLflow prints each registration to stderr ("Created version '2' of model ..."), which
    the demo's own lines already say; what was printed is shown if the demo itself crashes."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer):
            yield buffer
    except BaseException:
        sys.stderr.write(buffer.getvalue())
        raise


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
    calendar = None
    if plan.days is None:
        calendar = demo_calendar(os.environ, datetime.now(UTC).date())
        if calendar is not None:
            # Read back by every process with this MLOPS_HOME for the built-in drift start
            # (settings.py), so a day run again from the UI draws what the demo drew.
            calendar.write(os.environ)
        # The built-in data tells the delayed story unless the user chose otherwise: set
        # before the definitions load, which read both variables.
        os.environ.setdefault("MLOPS_LABEL_DELAY_DAYS", str(DEMO_LABEL_DELAY_DAYS))
        if int(os.environ["MLOPS_LABEL_DELAY_DAYS"] or 0) > 0 and not watch_labels:
            own_labels_directory = Path(default_home()).expanduser().resolve() / "labels"
            os.environ["MLOPS_LABELS_DATA"] = str(own_labels_directory)
    from mlops_assets.definitions import SETTINGS, defs
    from mlops_assets.defs.monitoring import scoring_partitions

    daily_partitions = scoring_partitions(SETTINGS.scoring_start)

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    # Read by mlflow when it is first imported (by the first run): its INFO lines, the warning
    # about pip in a uv environment and its download progress bars stay out of the table.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    started = time.perf_counter()
    days = _partition_days(plan, daily_partitions, calendar)
    if days is not None and not days:
        print(
            f"None of the days in {plan.scoring} is a daily partition (from "
            f"{daily_partitions.start:%Y-%m-%d}, MLOPS_SCORING_START, to yesterday).",
            file=sys.stderr,
        )
        return 2
    steps = 1 if plan.train_only else 2
    rows = LoopResult()
    with dg.DagsterInstance.get() as instance:
        print(f"1/{steps} training_job on {plan.training} ...")
        with _mlflow_chatter_hidden():
            training = defs.resolve_job_def("training_job").execute_in_process(
                instance=instance, run_config=QUIET, raise_on_error=False
            )
        if not training.success:
            print(f"training_job failed: {failure_message(training)}", file=sys.stderr)
            return 1
        registered = training.output_for_node("registered_model_version")
        print(
            f"    {registered.model_name} v{registered.version}: "
            f"{'champion' if registered.promoted else registered.outcome} "
            f"({time.perf_counter() - started:.0f} s)\n"
        )
        if plan.train_only:
            print(f"Trained only. {plan.train_only}.")
        else:
            assert days is not None  # a plan that scores has its days (_partition_days)
            labels = _label_delivery(defs, own_labels_directory)
            intro = (
                f"2/2 scoring {len(days)} days of {plan.scoring} from {days[0]}, the sensors "
                "ticked after each"
                + (
                    f" (each day's labels land {labels.delay_days} days later in "
                    f"{labels.directory}, MLOPS_LABEL_DELAY_DAYS):"
                    if labels is not None
                    else ":"
                )
            )
            print(
                "\n".join(
                    textwrap.wrap(
                        intro,
                        width=WIDTH,
                        subsequent_indent="    ",
                        break_long_words=False,
                        break_on_hyphens=False,
                    )
                )
            )
            with _mlflow_chatter_hidden():
                rows = run_days(
                    instance, days, run_config=QUIET, labels=labels, watch_labels=watch_labels
                )
            print("\n" + "\n".join([*render_table(rows, rows.after_last), *legend()]))
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
        "  make mlflow-ui  MLflow UI (prints its address): runs, registry, aliases"
    )
    if failed := failure_summary(rows, rows.after_last):
        print("\n" + "\n".join(failed), file=sys.stderr)
        return 1
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


def _partition_days(
    plan: DemoPlan, partitions: dg.DailyPartitionsDefinition, calendar: BuiltinCalendar | None
) -> list[date] | None:
    """The days to score that are partitions; None when the plan trains only. The built-in
    days are the calendar's, else (a start the user fixed) those from the first partition."""
    if plan.train_only:
        return None
    if plan.days is None:
        first = date.fromisoformat(
            calendar.scoring_start if calendar else partitions.start.strftime("%Y-%m-%d")
        )
        return [first + timedelta(days=offset) for offset in range(DEMO_DAYS)]
    keys = set(partitions.get_partition_keys())
    days = [day for day in plan.days if day.isoformat() in keys]
    if skipped := [day.isoformat() for day in plan.days if day.isoformat() not in keys]:
        print(f"Skipping {len(skipped)} days outside the daily partitions: {skipped[:5]}")
    return days


if __name__ == "__main__":
    sys.exit(main())
