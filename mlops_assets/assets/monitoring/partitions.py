"""The daily partitions of the monitoring assets and what those assets share."""

import functools
import os
import warnings
from typing import Any

import dagster as dg

from mlops_assets.assets.common import MLFLOW_RETRY_POLICY, MONITORING_GROUP, OWNER
from mlops_assets.domain.health import Health
from mlops_assets.resources.data_source import scoring_start

# The first day that can be scored; partitions are fixed when the code location loads.
daily_partitions = dg.DailyPartitionsDefinition(start_date=scoring_start(os.environ))

# What every monitoring asset shares: one partition a day, retried only when MLflow is down.
daily_asset = functools.partial(
    dg.asset,
    partitions_def=daily_partitions,
    group_name=MONITORING_GROUP,
    owners=[OWNER],
    retry_policy=MLFLOW_RETRY_POLICY,
)


def daily_check_spec(name: str, asset: str, description: str, *, blocking: bool = False):
    """A check evaluated per day, so the UI shows each day's result on its partition (without
    `partitions_def` it shows "Partition —" on a daily asset). Partitioned checks are a preview
    API in Dagster 1.13; its warning would print on every code-location load."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name,
            asset=asset,
            blocking=blocking,
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
