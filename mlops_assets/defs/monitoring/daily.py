"""daily_monitoring: the seven daily monitoring assets, materialised together for a range of days.

Each asset is a typed step declared in its own module (steps.py: its spec, its checks, and a
function whose signature declares its inputs, config and resources); this module runs them for
every day of the run's partition range. Dagster injects the resources, the Parquet IO manager
stores and loads every day, and the asset graph shows what each step reads.

Why one step for a range rather than one Dagster step per asset: a single-run backfill
(`BackfillPolicy.single_run()`: a 60-day backfill is one run, paying the process start, the
code-location load and MLflow's imports once; bench/bench_backfill.py) hands each step the whole
range, and Dagster 1.13 records a step's output as materialised for every day of it or for none
(dagster-io/dagster#17836, open: no partition of a single-run backfill can fail alone), while a
missing output skips every downstream step for every day. Days are independent here: a day that
fails (a bad file, a tampered model) stops there, the other days go on and are recorded, and the
run fails at the end naming the failed days, which Dagster then shows as failed partitions. So
the step records each day's events itself; that hand-written part is `day_events`, below. Only
an MLflow outage stops the range at once: the step is retried (mlflow_retry_policy) and the retry
skips what this run already recorded.
"""

# No `from __future__ import annotations`: Dagster reads the config's and resources' annotations
# as classes.
from collections.abc import Iterator
from datetime import date
from typing import Any, cast

import dagster as dg
from pydantic import Field

from mlops_assets.asset_keys import DEFAULT, ModelNames
from mlops_assets.dagster_internals import latest_materialization_target
from mlops_assets.defs.common import for_people
from mlops_assets.defs.monitoring import (
    comparison,
    estimates,
    labels,
    predictions,
    reports,
    scoring,
)
from mlops_assets.defs.monitoring.jobs import DAILY_MONITORING_OP
from mlops_assets.defs.monitoring.steps import DailyStep, DayInput, ModelStep, reads_metadata
from mlops_assets.resources.io_managers import ParquetIOManager, StoredParquetFile


class MonitoringConfig(dg.Config):
    """Each asset's settings under its own name, e.g. `drift_report: {evidently_html: true}`."""

    batch_predictions: predictions.ScoringConfig = Field(default_factory=predictions.ScoringConfig)
    drift_report: reports.DriftReportConfig = Field(default_factory=reports.DriftReportConfig)
    estimated_performance: estimates.EstimateConfig = Field(
        default_factory=estimates.EstimateConfig
    )
    realized_performance: labels.RealizedPerformanceConfig = Field(
        default_factory=labels.RealizedPerformanceConfig
    )
    challenger_comparison: comparison.ComparisonConfig = Field(
        default_factory=comparison.ComparisonConfig
    )


# In the order a day runs them: each after the inputs it declares (checked below).
DAILY_STEPS: tuple[DailyStep, ...] = (
    scoring.scoring_data,
    predictions.batch_predictions,
    reports.drift_report,
    estimates.estimated_performance,
    labels.labels,
    labels.realized_performance,
    comparison.challenger_comparison,
)
DAY_FUNCTIONS = {DEFAULT.key(step.name): step.compute for step in DAILY_STEPS}
"""Each of the default model's assets' own function (the asset page's code reference points
at it)."""


def _in_order(steps: tuple[DailyStep, ...]) -> tuple[DailyStep, ...]:
    done: set[str] = set()
    for step in steps:
        late = [i.asset for i in step.inputs.values() if i.declared and i.asset not in done]
        if late:
            raise ValueError(f"{step.name} runs before its inputs {', '.join(late)}")
        done.add(step.name)
    return steps


class DayFailed(Exception):
    """One asset failed for one day: the day stops there, the other days go on."""

    def __init__(self, day: str, asset: dg.AssetKey, failure: dg.Failure) -> None:
        super().__init__(f"{day} ({asset.to_user_string()}): {failure.description}")
        self.day, self.asset, self.failure = day, asset, failure


class _Day:
    """One day's inputs, loaded through the IO manager as each step's signature asks; a frame
    read by two steps (scoring_data, by drift_report and estimated_performance) is read once."""

    def __init__(self, context: dg.AssetExecutionContext, io: ParquetIOManager, day: str):
        self.context, self.io, self.day = context, io, day
        self._frames: dict[dg.AssetKey, Any] = {}

    def load(self, wanted: DayInput, key: dg.AssetKey) -> Any:
        if reads_metadata(wanted.wanted):
            return self._recorded(wanted, key)
        if wanted.optional and not self.io.is_stored(key, self.day):
            return None
        if wanted.wanted is StoredParquetFile:  # a streaming handle, opened per reader
            return self.io.load_partition(key, self.day, StoredParquetFile)
        if key not in self._frames:
            self._frames[key] = self.io.load_partition(key, self.day)
        return self._frames[key]

    def _recorded(self, wanted: DayInput, key: dg.AssetKey) -> Any:
        """A verdict: the day's latest materialisation of its asset (this run's, if it ran)."""
        records = self.context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[self.day]), limit=1
        ).records
        event = records[0].asset_materialization if records else None
        if event is None:
            if wanted.optional:
                return None
            raise dg.Failure(
                f"{self.day}: {key.to_user_string()} has no record; materialise it first.",
                allow_retries=False,
            )
        return cast(Any, wanted.wanted).from_metadata(date.fromisoformat(self.day), event.metadata)

    def run(
        self, step: ModelStep, config: MonitoringConfig
    ) -> Iterator[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
        """The step for this day, as events; a failure of any kind as DayFailed, except an
        MLflow outage, which retries the whole step."""
        declared = step.step
        try:
            kwargs = {
                name: self.load(wanted, step.input_key(wanted))
                for name, wanted in declared.inputs.items()
            }
            kwargs.update(
                {
                    name: getattr(self.context.resources, key)
                    for name, key in step.resource_keys.items()
                }
            )
            if declared.has_config:
                kwargs["config"] = getattr(config, declared.name)
            result = declared.compute(self.context, self.day, **kwargs)
            # Yielded as they come: a failed check is recorded before the day stops.
            yield from day_events(self.context, self.io, step.key, self.day, result)
        except dg.Failure as failure:
            if failure.allow_retries:
                raise  # MLflow is down: retry the step, not the day
            raise DayFailed(self.day, step.key, failure) from failure
        except Exception as error:  # a bug or an unforeseen input: this day only
            unforeseen = dg.Failure(f"{type(error).__name__}: {error}", allow_retries=False)
            raise DayFailed(self.day, step.key, unforeseen) from error


def day_events(
    context: dg.AssetExecutionContext,
    io: ParquetIOManager,
    key: dg.AssetKey,
    day: str,
    result: Any,
) -> Iterator[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
    """A step's result for one day of a range as that day's events: what Dagster does for a step
    with one partition key, done here because a range's days succeed or fail apart (see the
    module's docstring). A stored output is written first, so its materialisation is recorded
    only once the file is in place; a check evaluation targets the day's materialisation."""
    selected_checks = context.selected_asset_check_keys
    for item in result if isinstance(result, Iterator) else [result]:
        checks: list[dg.AssetCheckResult] = []
        if isinstance(item, dg.Output):
            written = io.write_partition(key, day, item.value)
            metadata = for_people({**item.metadata, **written})
            yield dg.AssetMaterialization(asset_key=key, partition=day, metadata=metadata)
        elif isinstance(item, dg.MaterializeResult):
            metadata = for_people(item.metadata or {})
            yield dg.AssetMaterialization(asset_key=key, partition=day, metadata=metadata)
            checks = list(item.check_results or ())
        elif isinstance(item, dg.AssetCheckResult):
            checks = [item]
        else:
            raise TypeError(f"{key.to_user_string()} returned {type(item).__name__}")
        for check in checks:
            check_key = dg.AssetCheckKey(key, check.check_name or "")
            if check_key not in selected_checks:
                continue
            yield dg.AssetCheckEvaluation(
                asset_key=key,
                check_name=check_key.name,
                passed=check.passed,
                metadata=for_people(check.metadata or {}),
                severity=check.severity,
                description=check.description,
                partition=day,
                # The latest materialisation is the one yielded just before: a yielded event is
                # stored before this generator resumes.
                target_materialization_data=latest_materialization_target(
                    context.instance, key, day
                ),
            )


def daily_monitoring_asset(
    names: ModelNames, partitions: dg.PartitionsDefinition, retry: dg.RetryPolicy
) -> dg.AssetsDefinition:
    """The model's daily monitoring assets as one multi-asset (op `daily_monitoring` for the
    default model, `car_loan__daily_monitoring` for car_loan: run config names it)."""
    steps = tuple(step.for_model(names, partitions) for step in _in_order(DAILY_STEPS))

    @dg.multi_asset(
        name=names.job(DAILY_MONITORING_OP),
        specs=[step.spec for step in steps],
        check_specs=[check for step in steps for check in step.checks],
        # The steps' resources under the model's keys, which Dagster builds and injects
        # (context.resources); one decorator argument, as Dagster takes resources either here
        # or as parameters, not both.
        required_resource_keys={"parquet_io_manager"}
        | {key for step in steps for key in step.resource_keys.values()},
        can_subset=True,
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=retry,
    )
    def daily_monitoring(
        context: dg.AssetExecutionContext,
        config: MonitoringConfig,
    ) -> Iterator[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
        """The selected monitoring assets for every day of the run's partition range, day by
        day."""
        parquet_io_manager: ParquetIOManager = context.resources.parquet_io_manager
        days = context.partition_keys
        selected = [step for step in steps if step.key in context.selected_asset_keys]
        # A retry (MLflow was down) does only what this run has not recorded yet.
        recorded = _recorded_by_this_run(context) if context.retry_number > 0 else set()
        failed: list[DayFailed] = []
        for day in days:
            inputs = _Day(context, parquet_io_manager, day)
            try:
                for step in selected:
                    if (step.key, day) not in recorded:
                        yield from inputs.run(step, config)
            except DayFailed as error:
                context.log.error(f"{error}; the other days go on")
                failed.append(error)
        if failed:
            raise _days_failed(failed, len(days))

    return daily_monitoring


def _recorded_by_this_run(context: dg.AssetExecutionContext) -> set[tuple[dg.AssetKey, str]]:
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    recorded = set()
    for record in records:
        materialization = record.asset_materialization
        if materialization is not None and materialization.partition is not None:
            recorded.add((materialization.asset_key, materialization.partition))
    return recorded


def _days_failed(failed: list[DayFailed], days: int) -> dg.Failure:
    """The run's failure: one day's own error and failure cases, or which days failed."""
    if days == 1:
        (only,) = failed
        return dg.Failure(
            description=only.failure.description,
            metadata={**only.failure.metadata, "failed_asset": only.asset.to_user_string()},
            allow_retries=False,
        )
    listed = "\n".join(f"- {error}" for error in failed)
    return dg.Failure(
        description=(
            f"{len(failed)} of {days} days failed; the other days are materialised. "
            f"Re-run a failed day alone once it is fixed.\n{listed}"
        ),
        metadata={"failed_days": ", ".join(error.day for error in failed)},
        allow_retries=False,
    )


__all__ = [
    "DAILY_STEPS",
    "DAY_FUNCTIONS",
    "MonitoringConfig",
    "daily_monitoring_asset",
    "day_events",
]
