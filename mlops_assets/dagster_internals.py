"""Every private Dagster name this package uses, in one place, each exercised by
mlops_assets_tests/test_dagster_internals.py.

Dagster 1.13 exports these only from `dagster._core` / `dagster._utils`, where an upgrade may
move, rename or change them without notice. Product modules import them from here, never from
`dagster._*` (that test fails on any other such import), so the next upgrade that breaks one
fails that test, naming the name, instead of a demo's sensor tick or a run's health check.

Who uses what:
- sensor_ticks.py records a sensor's evaluation as the daemon does: the code location's and
  the sensor's origins, the instigator state and tick records, the run tags the UI filters on;
- run_health.py: the run launcher's health-check result, and the executor interface's types;
- defs/monitoring/daily.py: AssetCheckEvaluation's target-materialization record
  (`latest_materialization_target`).

Each name is imported on first use (PEP 562 `__getattr__`): the scheduler's records pull in
Dagster's remote-representation and snapshot modules, which the code location's load (it needs
only run_health's two launcher names) would otherwise import for nothing.

To add a name: import it under TYPE_CHECKING, add it to `_HOMES` and `__all__` (the test checks
that the three agree), and exercise it in that test.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from dagster._core.definitions.asset_checks.asset_check_evaluation import (
        AssetCheckEvaluationTargetMaterializationData,
    )
    from dagster._core.definitions.repository_definition.valid_definitions import (
        SINGLETON_REPOSITORY_NAME,
    )
    from dagster._core.execution.context.system import PlanOrchestrationContext
    from dagster._core.execution.plan.plan import ExecutionPlan
    from dagster._core.execution.retries import RetryMode
    from dagster._core.execution.step_dependency_config import StepDependencyConfig
    from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
    from dagster._core.remote_origin import (
        InProcessCodeLocationOrigin,
        RemoteInstigatorOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        InstigatorType,
        SensorInstigatorData,
        TickData,
        TickStatus,
    )
    from dagster._core.storage.tags import REPOSITORY_LABEL_TAG, RUN_KEY_TAG, SENSOR_NAME_TAG
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.utils import make_new_run_id
    from dagster._utils.error import serializable_error_info_from_exc_info

# Where Dagster 1.13 defines each name (the imports above, for the type checker, say the same:
# the test checks it).
_HOMES = {
    "AssetCheckEvaluationTargetMaterializationData": (
        "dagster._core.definitions.asset_checks.asset_check_evaluation"
    ),
    "SINGLETON_REPOSITORY_NAME": (
        "dagster._core.definitions.repository_definition.valid_definitions"
    ),
    "PlanOrchestrationContext": "dagster._core.execution.context.system",
    "ExecutionPlan": "dagster._core.execution.plan.plan",
    "RetryMode": "dagster._core.execution.retries",
    "StepDependencyConfig": "dagster._core.execution.step_dependency_config",
    "CheckRunHealthResult": "dagster._core.launcher",
    "WorkerStatus": "dagster._core.launcher",
    "InProcessCodeLocationOrigin": "dagster._core.remote_origin",
    "RemoteInstigatorOrigin": "dagster._core.remote_origin",
    "RemoteRepositoryOrigin": "dagster._core.remote_origin",
    "InstigatorState": "dagster._core.scheduler.instigation",
    "InstigatorStatus": "dagster._core.scheduler.instigation",
    "InstigatorType": "dagster._core.scheduler.instigation",
    "SensorInstigatorData": "dagster._core.scheduler.instigation",
    "TickData": "dagster._core.scheduler.instigation",
    "TickStatus": "dagster._core.scheduler.instigation",
    "REPOSITORY_LABEL_TAG": "dagster._core.storage.tags",
    "RUN_KEY_TAG": "dagster._core.storage.tags",
    "SENSOR_NAME_TAG": "dagster._core.storage.tags",
    "LoadableTargetOrigin": "dagster._core.types.loadable_target_origin",
    "make_new_run_id": "dagster._core.utils",
    "serializable_error_info_from_exc_info": "dagster._utils.error",
}

__all__ = [
    "REPOSITORY_LABEL_TAG",
    "RUN_KEY_TAG",
    "SENSOR_NAME_TAG",
    "SINGLETON_REPOSITORY_NAME",
    "AssetCheckEvaluationTargetMaterializationData",
    "CheckRunHealthResult",
    "ExecutionPlan",
    "InProcessCodeLocationOrigin",
    "InstigatorState",
    "InstigatorStatus",
    "InstigatorType",
    "LoadableTargetOrigin",
    "PlanOrchestrationContext",
    "RemoteInstigatorOrigin",
    "RemoteRepositoryOrigin",
    "RetryMode",
    "SensorInstigatorData",
    "StepDependencyConfig",
    "TickData",
    "TickStatus",
    "WorkerStatus",
    "make_new_run_id",
    "serializable_error_info_from_exc_info",
]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # looked up once
    return value


def latest_materialization_target(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str
) -> AssetCheckEvaluationTargetMaterializationData | None:
    """The partition's latest materialisation, as a check evaluation's target; None when it
    has none (the day failed before anything was recorded: the check stands alone).

    A check evaluation recorded for one day of a partition range must carry it: the check's
    Partitions view (Dagster's AssetCheckState) counts an evaluation only when it targets the
    day's latest materialisation, and Dagster fills the target in itself only for a step with a
    single partition key."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    if not records:
        return None
    target = __getattr__("AssetCheckEvaluationTargetMaterializationData")
    return target(  # type: ignore[no-any-return,operator]
        storage_id=records[0].storage_id,
        run_id=records[0].run_id,
        timestamp=records[0].timestamp,
    )
