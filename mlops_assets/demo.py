"""`make demo`: the whole loop on the built-in data, in the project-local Dagster instance.

Train a champion, then score 14 daily partitions in which drift begins on day 8. After each day
the drift sensor is ticked exactly as the daemon would tick it; when it asks for a retraining,
that run executes, and the gate decides whether the new model takes over. The runs stay in
DAGSTER_HOME so `make ui` shows them.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg

from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.resources.project import default_home

DEMO_DAYS = 14
# The demo prints its own per-day table; Dagster's step-by-step log stays in the run's logs
# (`make ui`), so the console shows only warnings and errors.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


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
    """Score `days` daily partitions from `first_day`, ticking the sensor after each.

    `run_config` goes to every run; `monitoring_config` (e.g. drift_report's settings) only to
    the daily monitoring runs. Returns one row per day. Shared by `make demo` and the loop
    test, so the test proves what the demo shows.
    """
    from mlops_assets.definitions import defs

    monitoring = defs.resolve_job_def("daily_monitoring_job")
    retraining = defs.resolve_job_def("retraining_job")
    sensor = defs.resolve_sensor_def("drift_retraining_sensor")
    cursor: str | None = None
    seen_run_keys: set[str] = set()
    rows: list[DayRow] = []
    for offset in range(days):
        day = (first_day + timedelta(days=offset)).isoformat()
        result = monitoring.execute_in_process(
            partition_key=day,
            instance=instance,
            resources=resources,
            run_config={**(run_config or {}), **(monitoring_config or {})},
            raise_on_error=True,
        )
        report = _metadata(result, "drift_report")
        scored = _metadata(result, "batch_predictions")
        row = DayRow(
            day=day,
            drifted_share=float(report["drifted_share"].value),
            severity=str(report["severity"].value),
            accuracy=float(report["day_metric_accuracy"].value)
            if "day_metric_accuracy" in report
            else None,
            model_version=str(scored["model_version"].value),
            performance_dropped=bool(report["performance_dropped"].value),
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


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
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


def main() -> int:
    from mlops_assets.assets.monitoring import daily_partitions
    from mlops_assets.definitions import defs

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    # Read by mlflow when it is first imported (by the first run): its INFO lines and the
    # warning about pip in a uv environment stay out of the demo's table.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        print("1/2 training_job on the built-in data ...")
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
        first_day = date.fromisoformat(daily_partitions.start.strftime("%Y-%m-%d"))
        print(f"2/2 scoring {DEMO_DAYS} days from {first_day}, drift sensor ticked after each:")
        print(HEADER)
        with _mlflow_chatter_hidden():
            run_loop(instance, first_day, DEMO_DAYS, run_config=QUIET)
    registry = MlflowRegistry()
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


if __name__ == "__main__":
    sys.exit(main())
