"""The daily partitions of the monitoring assets and what those assets share.

A daily asset, its checks and its step are declared once, in terms of asset names
(`daily_spec`, `daily_check_spec`); each model's build makes them its own keys, groups and
partitions (`DailySpec.for_model`), so the default model and a declared one share every line.
"""

import functools
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import dagster as dg

from mlops_assets.asset_keys import ModelNames
from mlops_assets.defs.common import MONITORING_GROUP, OWNER
from mlops_assets.domain.health import Health


@functools.cache
def scoring_partitions(start: str) -> dg.DailyPartitionsDefinition:
    """The model's days from its first scoring day (`Settings.scoring_start`) to today: one
    definition per start, so a model's assets, checks and jobs share it."""
    return dg.DailyPartitionsDefinition(start_date=start)


@dataclass(frozen=True)
class DailySpec:
    """One of the daily monitoring assets, by name (defs/monitoring/daily.py materialises
    them all, a range of days per run). `deps` are the assets it depends on besides its inputs,
    which daily_step adds from its function's signature. `stored` assets are DataFrames the
    Parquet IO manager keeps, one file a day, which other assets (raw_data's retraining window)
    read as inputs."""

    name: str
    description: str
    kinds: frozenset[str]
    deps: tuple[str, ...] = ()
    stored: bool = False
    group: str = MONITORING_GROUP

    def for_model(
        self,
        names: ModelNames,
        partitions: dg.PartitionsDefinition,
        inputs: Iterable[str] = (),
    ) -> dg.AssetSpec:
        """The asset as the model `names` has it; `inputs` are the daily assets it reads.
        Skippable: a day that fails, or an asset not selected, records nothing."""
        deps = list(dict.fromkeys(names.key(name) for name in (*inputs, *self.deps)))
        spec = dg.AssetSpec(
            names.key(self.name),
            description=self.description,
            kinds=set(self.kinds),
            deps=deps,
            group_name=names.group(self.group),
            owners=[OWNER],
            partitions_def=partitions,
            skippable=True,
        )
        return spec.with_io_manager_key("parquet_io_manager") if self.stored else spec


def daily_spec(
    name: str,
    description: str,
    kinds: set[str],
    deps: Iterable[str] = (),
    *,
    stored: bool = False,
    group_name: str = MONITORING_GROUP,
) -> DailySpec:
    return DailySpec(name, description, frozenset(kinds), tuple(deps), stored, group_name)


@dataclass(frozen=True)
class DailyCheck:
    """A check evaluated per day, by name; `for_model` makes it the model's."""

    name: str
    asset: str
    description: str

    def for_model(
        self, names: ModelNames, partitions: dg.PartitionsDefinition
    ) -> dg.AssetCheckSpec:
        """Partitioned, so the UI shows each day's result on its partition (without
        `partitions_def` it shows "Partition —" on a daily asset). Partitioned checks are a
        preview API in Dagster 1.13; its warning would print on every code-location load."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.PreviewWarning)
            return dg.AssetCheckSpec(
                self.name,
                asset=names.key(self.asset),
                description=self.description,
                partitions_def=partitions,
            )


def daily_check_spec(name: str, asset: str, description: str) -> DailyCheck:
    return DailyCheck(name, asset, description)


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
