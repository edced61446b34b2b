"""A daily monitoring asset declared as a typed step: its spec, its checks and a function whose
signature says what it reads.

The function's parameters are bound by name and annotation, as Dagster binds an asset's:
- `context` and `partition` (the day);
- `config`: the asset's own config class (its field of `MonitoringConfig`);
- a parameter named after a daily asset is an input, loaded as its annotation asks: a
  `StoredParquetFile` streams the stored day, a verdict type (one with `from_metadata`) is read
  from the day's latest materialisation, anything else is the stored day as a DataFrame; an
  optional one (`X | None`) is None when the day has none;
- any other parameter is a resource of that name, which Dagster injects into the step.

An input is a dependency in the asset graph, so the lineage shown is the lineage the code reads;
an `earlier` input is read only as an earlier run left it (the estimate reads the labels already
landed, and runs before today's labels) and is not drawn as an edge.
"""

import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from mlops_assets.asset_keys import DAILY

_BY_NAME = {key.to_user_string(): key for key in DAILY}
_NOT_BOUND = ("context", "partition", "config")


@dataclass(frozen=True)
class DayInput:
    """One daily asset a step reads for the same day."""

    key: dg.AssetKey
    wanted: object
    """The annotation without `None`: how the input is loaded."""
    optional: bool
    declared: bool
    """A dependency in the asset graph; False for an `earlier` input."""


@dataclass(frozen=True)
class DailyStep:
    """One daily monitoring asset: what daily.py needs to run it for a day of a range."""

    spec: dg.AssetSpec
    checks: tuple[dg.AssetCheckSpec, ...]
    compute: Callable[..., Any]
    inputs: Mapping[str, DayInput]
    resources: tuple[str, ...]
    has_config: bool

    @property
    def key(self) -> dg.AssetKey:
        return self.spec.key


def daily_step(
    spec: dg.AssetSpec, *checks: dg.AssetCheckSpec, earlier: Iterable[str] = ()
) -> Callable[[Callable[..., Any]], DailyStep]:
    """Declare `spec`'s day function; the spec's dependencies gain the inputs it reads."""
    earlier = frozenset(earlier)

    def declare(compute: Callable[..., Any]) -> DailyStep:
        inputs: dict[str, DayInput] = {}
        resources: list[str] = []
        for name, parameter in inspect.signature(compute).parameters.items():
            if name in _NOT_BOUND:
                continue
            if name not in _BY_NAME:
                resources.append(name)
                continue
            wanted, optional = _without_none(parameter.annotation)
            inputs[name] = DayInput(
                _BY_NAME[name],
                wanted,
                optional or parameter.default is None,
                declared=name not in earlier,
            )
        read = [i.key for i in inputs.values() if i.declared]
        deps = [*read, *(d.asset_key for d in spec.deps if d.asset_key not in read)]
        return DailyStep(
            spec.replace_attributes(deps=deps),
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
