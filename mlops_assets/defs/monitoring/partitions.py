"""The daily partitions of the monitoring assets and what those assets share."""

import os
import warnings
from collections.abc import Iterable
from typing import Any

import dagster as dg

from mlops_assets.defs.common import MONITORING_GROUP, OWNER
from mlops_assets.domain.health import Health
from mlops_assets.resources.data_source import scoring_start

# The first day that can be scored; partitions are fixed when the code location loads.
daily_partitions = dg.DailyPartitionsDefinition(start_date=scoring_start(os.environ))


def daily_spec(
    name: str,
    description: str,
    kinds: set[str],
    deps: Iterable[str | dg.AssetKey] = (),
    *,
    stored: bool = False,
    group_name: str = MONITORING_GROUP,
) -> dg.AssetSpec:
    """One of the daily monitoring assets (defs/monitoring/daily.py materialises them all, a
    range of days per run). `deps` are what it depends on besides its inputs, which daily_step
    adds from its function's signature. Skippable: a day that fails, or an asset not selected,
    records nothing. `stored` assets are DataFrames the Parquet IO manager keeps, one file a
    day, which other assets (raw_data's retraining window) read as inputs."""
    spec = dg.AssetSpec(
        name,
        description=description,
        kinds=kinds,
        deps=list(deps),
        group_name=group_name,
        owners=[OWNER],
        partitions_def=daily_partitions,
        skippable=True,
    )
    return spec.with_io_manager_key("parquet_io_manager") if stored else spec


def daily_check_spec(name: str, asset: str, description: str):
    """A check evaluated per day, so the UI shows each day's result on its partition (without
    `partitions_def` it shows "Partition —" on a daily asset). Partitioned checks are a preview
    API in Dagster 1.13; its warning would print on every code-location load."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name,
            asset=asset,
            description=description,
            partitions_def=daily_partitions,
        )


def check_result(check_name: str, health: Health, **metadata: Any) -> dg.AssetCheckResult:
    """A domain `Health` as Dagster shows it: passed, or failed with WARN or ERROR severity."""
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=health.passed,
        severity=dg.AssetCheckSeverity.ERROR
        if health.level == "error"
        else dg.AssetCheckSeverity.WARN,
        description=health.summary,
        metadata=metadata,
    )
