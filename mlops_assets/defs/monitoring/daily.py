"""daily_monitoring: the six daily monitoring assets, materialised together for a range of days.

One op owns scoring_data -> batch_predictions -> drift_report, estimated_performance, labels
-> realized_performance. A scheduled run is one day; a backfill of 60 days is one run too
(`BackfillPolicy.single_run()`), which pays the process start, the code-location load and
MLflow's imports once rather than once a day (bench/bench_backfill.py). Each day is still its
own partition in the UI: materialised, failed or missing, with its own metadata and checks, and
re-runnable alone.

Days are independent. A day that fails (a bad file, a tampered model) is logged and skipped;
the other days go on and are recorded, and the run fails at the end naming the failed days,
which Dagster then shows as failed partitions. Only an MLflow outage stops the range at once:
the step is retried (MLFLOW_RETRY_POLICY) and the retry skips what this run already recorded.

The asset functions live one per module (scoring.py, predictions.py, ...); this module only
calls them in order, stores their outputs and turns their results into per-day events.
"""

# No `from __future__ import annotations`: Dagster reads the config's and resources' annotations
# as classes.
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import dagster as dg

# Not exported by Dagster 1.13; AssetCheckEvaluation takes it (see _DayAssets._target).
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from pydantic import Field

from mlops_assets.contracts import EstimatedVerdict
from mlops_assets.defs.common import MLFLOW_RETRY_POLICY, for_people
from mlops_assets.defs.monitoring import estimates, labels, predictions, reports, scoring
from mlops_assets.resources.data_source import (
    LabelsDataSource,
    ScoringDataSource,
    TrainingDataSource,
)
from mlops_assets.resources.io_managers import ParquetIOManager, StoredParquetFile
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.resources.project import ProjectStorage


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


SCORING_DATA = dg.AssetKey("scoring_data")
BATCH_PREDICTIONS = dg.AssetKey("batch_predictions")
DRIFT_REPORT = dg.AssetKey("drift_report")
ESTIMATED_PERFORMANCE = dg.AssetKey("estimated_performance")
LABELS = dg.AssetKey("labels")
REALIZED_PERFORMANCE = dg.AssetKey("realized_performance")

# Each asset's function, in the order a day runs them (each after what it reads).
DAY_FUNCTIONS: Mapping[dg.AssetKey, Callable[..., Any]] = {
    SCORING_DATA: scoring.scoring_data,
    BATCH_PREDICTIONS: predictions.batch_predictions,
    DRIFT_REPORT: reports.drift_report,
    ESTIMATED_PERFORMANCE: estimates.estimated_performance,
    LABELS: labels.labels,
    REALIZED_PERFORMANCE: labels.realized_performance,
}


class DayFailed(Exception):
    """One asset failed for one day: the day stops there, the other days go on."""

    def __init__(self, day: str, asset: dg.AssetKey, failure: dg.Failure) -> None:
        super().__init__(f"{day} ({asset.to_user_string()}): {failure.description}")
        self.day, self.asset, self.failure = day, asset, failure


@dataclass
class _DayAssets:
    """The selected assets for one day at a time, each fed what the previous ones stored."""

    context: dg.AssetExecutionContext
    config: MonitoringConfig
    resources: Mapping[str, Any]
    io: ParquetIOManager
    already_recorded: set[tuple[dg.AssetKey, str]] = field(default_factory=set)
    # The day's stored frames read so far: drift_report and estimated_performance both read
    # scoring_data, which is read once.
    _frames: dict[tuple[dg.AssetKey, str], Any] = field(default_factory=dict)

    def run(self, day: str) -> Iterator[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
        estimate: EstimatedVerdict | None = None
        self._frames.clear()
        for key in DAY_FUNCTIONS:
            if key not in self.context.selected_asset_keys or (key, day) in self.already_recorded:
                continue
            try:
                # Yielded as they come: a failed check is recorded before the day stops.
                for event in self._events(key, day, self._call(key, day, estimate)):
                    if isinstance(event, dg.AssetMaterialization) and key == ESTIMATED_PERFORMANCE:
                        estimate = EstimatedVerdict.from_metadata(
                            date.fromisoformat(day), event.metadata
                        )
                    yield event
            except dg.Failure as failure:
                if failure.allow_retries:
                    raise  # MLflow is down: retry the step, not the day
                raise DayFailed(day, key, failure) from failure
            except Exception as error:  # a bug or an unforeseen input: this day only
                unforeseen = dg.Failure(f"{type(error).__name__}: {error}", allow_retries=False)
                raise DayFailed(day, key, unforeseen) from error

    def _call(self, key: dg.AssetKey, day: str, estimate: EstimatedVerdict | None) -> Any:
        r, config, context = self.resources, self.config, self.context
        if key == SCORING_DATA:
            return scoring.scoring_data(
                context,
                day,
                scoring_source=r["scoring_source"],
                data_source=r["data_source"],
                mlflow_registry=r["mlflow_registry"],
            )
        if key == BATCH_PREDICTIONS:
            return predictions.batch_predictions(
                context,
                day,
                config=config.batch_predictions,
                mlflow_registry=r["mlflow_registry"],
                scoring_data=self._stream(SCORING_DATA, day),
            )
        if key in (DRIFT_REPORT, ESTIMATED_PERFORMANCE):
            scored = {
                "mlflow_registry": r["mlflow_registry"],
                "scoring_data": self._frame(SCORING_DATA, day),
                "batch_predictions": self._stream(BATCH_PREDICTIONS, day),
            }
            if key == DRIFT_REPORT:
                return reports.drift_report(
                    context, day, config=config.drift_report, storage=r["storage"], **scored
                )
            return estimates.estimated_performance(
                context,
                day,
                config=config.estimated_performance,
                labels=self._landed_labels(day),
                **scored,
            )
        if key == LABELS:
            return labels.labels(
                context,
                day,
                labels_source=r["labels_source"],
                mlflow_registry=r["mlflow_registry"],
                batch_predictions=self._stream(BATCH_PREDICTIONS, day),
            )
        if estimate is None:  # estimated_performance did not run today: its latest record
            estimate = labels.latest_estimate(context.instance, day)
        return labels.realized_performance(
            context,
            day,
            config=config.realized_performance,
            mlflow_registry=r["mlflow_registry"],
            labels=self._frame(LABELS, day),
            batch_predictions=self._stream(BATCH_PREDICTIONS, day),
            estimate=estimate,
        )

    def _landed_labels(self, day: str) -> Any:
        """The day's stored labels when some have landed (for the progressive estimate)."""
        try:
            return self._frame(LABELS, day)
        except dg.Failure:  # none stored yet: the estimate is label-free
            return None

    def _stream(self, key: dg.AssetKey, day: str) -> StoredParquetFile:
        return StoredParquetFile(self.io.stored_partition(key, day))

    def _frame(self, key: dg.AssetKey, day: str) -> Any:
        import pandas as pd

        if (key, day) not in self._frames:
            self._frames[key, day] = pd.read_parquet(self.io.stored_partition(key, day))
        return self._frames[key, day]

    def _events(
        self, key: dg.AssetKey, day: str, result: Any
    ) -> Iterator[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
        """An asset function's results as this day's events; a stored output is written first,
        so its materialisation is recorded only once the file is in place."""
        items = result if isinstance(result, Iterator) else [result]
        for item in items:
            if isinstance(item, dg.Output):
                written = self.io.write_partition(key, day, item.value)
                yield dg.AssetMaterialization(
                    asset_key=key, partition=day, metadata=for_people({**item.metadata, **written})
                )
            elif isinstance(item, dg.MaterializeResult):
                yield dg.AssetMaterialization(
                    asset_key=key, partition=day, metadata=for_people(item.metadata or {})
                )
                for check in item.check_results or ():
                    yield from self._check(key, day, check)
            elif isinstance(item, dg.AssetCheckResult):
                yield from self._check(key, day, item)
            else:
                raise TypeError(f"{key.to_user_string()} returned {type(item).__name__}")

    def _check(
        self, key: dg.AssetKey, day: str, result: dg.AssetCheckResult
    ) -> Iterator[dg.AssetCheckEvaluation]:
        check_key = dg.AssetCheckKey(key, result.check_name or "")
        if check_key in self.context.selected_asset_check_keys:
            yield dg.AssetCheckEvaluation(
                asset_key=key,
                check_name=check_key.name,
                passed=result.passed,
                metadata=for_people(result.metadata or {}),
                severity=result.severity,
                description=result.description,
                partition=day,
                target_materialization_data=self._target(key, day),
            )

    def _target(
        self, key: dg.AssetKey, day: str
    ) -> AssetCheckEvaluationTargetMaterializationData | None:
        """The day's materialisation the check judged: its latest, the one yielded just before
        (a yielded event is stored before this generator resumes). The check's Partitions view
        (Dagster's AssetCheckState) counts an evaluation only when it targets the partition's
        latest materialisation: without a target, every day with one shows as missing. Dagster
        fills this in itself only for a step with a single partition key, not a range."""
        records = self.context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
        ).records
        if not records:  # the day failed before anything was stored: the check stands alone
            return None
        return AssetCheckEvaluationTargetMaterializationData(
            storage_id=records[0].storage_id,
            run_id=records[0].run_id,
            timestamp=records[0].timestamp,
        )


@dg.multi_asset(
    name="daily_monitoring",
    specs=[
        scoring.SPEC,
        predictions.SPEC,
        reports.SPEC,
        estimates.SPEC,
        labels.LABELS_SPEC,
        labels.REALIZED_SPEC,
    ],
    check_specs=[
        scoring.CHECK,
        reports.CHECK,
        reports.DATA_QUALITY_CHECK_SPEC,
        estimates.CHECK,
        labels.REALIZED_CHECK_SPEC,
    ],
    can_subset=True,
    backfill_policy=dg.BackfillPolicy.single_run(),
    retry_policy=MLFLOW_RETRY_POLICY,
)
def daily_monitoring(
    context: dg.AssetExecutionContext,
    config: MonitoringConfig,
    scoring_source: ScoringDataSource,
    data_source: TrainingDataSource,
    labels_source: LabelsDataSource,
    mlflow_registry: MlflowRegistry,
    storage: ProjectStorage,
    parquet_io_manager: dg.ResourceParam[ParquetIOManager],
) -> Iterator[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
    """The selected monitoring assets for every day of the run's partition range, day by day."""
    days = context.partition_keys
    assets = _DayAssets(
        context,
        config,
        {
            "scoring_source": scoring_source,
            "data_source": data_source,
            "labels_source": labels_source,
            "mlflow_registry": mlflow_registry,
            "storage": storage,
        },
        parquet_io_manager,
        # A retry (MLflow was down) does only what this run has not recorded yet.
        _recorded_by_this_run(context) if context.retry_number > 0 else set(),
    )
    failed: list[DayFailed] = []
    for day in days:
        try:
            yield from assets.run(day)
        except DayFailed as error:
            context.log.error(f"{error}; the other days go on")
            failed.append(error)
    if failed:
        raise _days_failed(failed, len(days))


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
