"""The daily partitions of the monitoring assets and what those assets share."""

import functools
import os

import dagster as dg

from mlops_assets.assets.common import MLFLOW_RETRY_POLICY, MONITORING_GROUP, OWNER
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
