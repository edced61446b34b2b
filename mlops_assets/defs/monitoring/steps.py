"""A daily monitoring asset declared as a typed step: its spec, its checks and a function whose
signature says what it reads.

The function's parameters are bound by name and annotation, as Dagster binds an asset's:
- `context` and `partition` (the day);
- `config`: the asset's own config class (its field of `MonitoringConfig`);
- a parameter named after a daily asset is an input, loaded as its annotation asks: a
  `StoredParquetFile` streams the stored day, a verdict type (one with `from_metadata`) is read
  from the day's latest materialisation, anything else is the stored day as a DataFrame; an
  optional one (`X | None`) is None when the day has none;
- any other parameter is a resource of that name, which Dagster injects into the step (a
  model's own resource under its key, `ModelNames.resource`: `car_loan__mlflow_registry`).

An input is a dependency in the asset graph, so the lineage shown is the lineage the code reads;
an `earlier` input is read only as an earlier run left it (the estimate reads the labels already
landed, and runs before today's labels) and is not drawn as an edge. A step is declared once by
asset names; `DailyStep.for_model` gives a model's (its keys, checks, resource keys).
"""

import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from mlops_assets.asset_keys import DEFAULT, ModelNames
from mlops_assets.defs.model_resources import resource_keys
from mlops_assets.defs.monitoring.partitions import DailyCheck, DailySpec

DAILY_NAMES = frozenset(key.path[-1] for key in DEFAULT.daily)
"""The daily assets by name: a step's parameter so named is that asset's day, an input."""
_NOT_BOUND = ("context", "partition", "config")


@dataclass(frozen=True)
class DayInput:
    """One daily asset a step reads for the same day."""

    asset: str
    """The daily asset's name (its key is the model's: `ModelNames.key`)."""
    wanted: object
    """The annotation without `None`: how the input is loaded."""
    optional: bool
    declared: bool
    """A dependency in the asset graph; False for an `earlier` input."""


@dataclass(frozen=True)
class DailyStep:
    """One daily monitoring asset, declared by name: its spec, checks and day function."""

    spec: DailySpec
    checks: tuple[DailyCheck, ...]
    compute: Callable[..., Any]
    inputs: Mapping[str, DayInput]
    resources: tuple[str, ...]
    """The resources the function takes, by parameter name."""
    has_config: bool

    @property
    def name(self) -> str:
        return self.spec.name

    def for_model(self, names: ModelNames, partitions: dg.PartitionsDefinition) -> "ModelStep":
        read = [i.asset for i in self.inputs.values() if i.declared]
        return ModelStep(
            self,
            names,
            self.spec.for_model(names, partitions, read),
            tuple(check.for_model(names, partitions) for check in self.checks),
        )


@dataclass(frozen=True)
class ModelStep:
    """A daily step as one model has it: what daily.py needs to run it for a day of a range."""

    step: DailyStep
    names: ModelNames
    spec: dg.AssetSpec
    checks: tuple[dg.AssetCheckSpec, ...]

    @property
    def key(self) -> dg.AssetKey:
        return self.spec.key

    def input_key(self, day_input: DayInput) -> dg.AssetKey:
        return self.names.key(day_input.asset)

    @property
    def resource_keys(self) -> dict[str, str]:
        """Each resource parameter's key among the model's resources."""
        return {name: next(iter(resource_keys(self.names, name))) for name in self.step.resources}


def daily_step(
    spec: DailySpec, *checks: DailyCheck, earlier: Iterable[str] = ()
) -> Callable[[Callable[..., Any]], DailyStep]:
    """Declare `spec`'s day function; the asset's dependencies gain the inputs it reads."""
    earlier = frozenset(earlier)

    def declare(compute: Callable[..., Any]) -> DailyStep:
        inputs: dict[str, DayInput] = {}
        resources: list[str] = []
        for name, parameter in inspect.signature(compute).parameters.items():
            if name in _NOT_BOUND:
                continue
            if name not in DAILY_NAMES:
                resources.append(name)
                continue
            wanted, optional = _without_none(parameter.annotation)
            inputs[name] = DayInput(
                name,
                wanted,
                optional or parameter.default is None,
                declared=name not in earlier,
            )
        return DailyStep(
            spec,
            checks,
            compute,
            inputs,
            tuple(resources),
            has_config="config" in inspect.signature(compute).parameters,
        )

    return declare


def _without_none(annotation: object) -> tuple[object, bool]:
    """`X | None` as (X, True); any other annotation as (it, False)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) < len(typing.get_args(annotation)):
            return (members[0] if len(members) == 1 else Any), True
    return annotation, False


def reads_metadata(wanted: object) -> bool:
    """A verdict type, recorded as its asset's metadata rather than stored as a file."""
    return isinstance(wanted, type) and hasattr(wanted, "from_metadata")
