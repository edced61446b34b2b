"""The private Dagster names the package uses (mlops_assets/dagster_internals.py), each used here
as the product uses it: the test that fails, naming the name, on the Dagster upgrade that moves
or changes one. The executor's types are also run for real by reliability/test_run_health.py."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import dagster as dg

import mlops_assets
from mlops_assets import dagster_internals as internals
from mlops_assets.dagster_internals import (
    REPOSITORY_LABEL_TAG,
    RUN_KEY_TAG,
    SENSOR_NAME_TAG,
    SINGLETON_REPOSITORY_NAME,
    AssetCheckEvaluationTargetMaterializationData,
    CheckRunHealthResult,
    ExecutionPlan,
    InProcessCodeLocationOrigin,
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    LoadableTargetOrigin,
    PlanOrchestrationContext,
    RemoteInstigatorOrigin,
    RemoteRepositoryOrigin,
    RetryMode,
    SensorInstigatorData,
    StepDependencyConfig,
    TickData,
    TickStatus,
    WorkerStatus,
    latest_materialization_target,
    make_new_run_id,
    serializable_error_info_from_exc_info,
)

PACKAGE = Path(mlops_assets.__file__).parent
SOURCE = PACKAGE / "dagster_internals.py"


def _private_imports(path: Path, *, type_checking_only: bool = False) -> dict[str, str]:
    """name -> module of each `from dagster._... import name` in the file."""
    tree = ast.parse(path.read_text())
    if type_checking_only:
        blocks = [n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.dump(n)]
        tree = ast.Module(body=[s for block in blocks for s in block.body], type_ignores=[])
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dagster._"):
            found.update({alias.name: str(node.module) for alias in node.names})
        if isinstance(node, ast.Import):
            found.update({a.name: a.name for a in node.names if a.name.startswith("dagster._")})
    return found


def test_the_type_checkers_imports_the_lazy_homes_and_all_name_the_same_things():
    typed = _private_imports(SOURCE, type_checking_only=True)
    assert typed == internals._HOMES
    assert sorted(internals.__all__) == sorted(typed)


def test_every_name_resolves_where_dagster_defines_it():
    for name in internals.__all__:
        module = importlib.import_module(internals._HOMES[name])
        assert getattr(internals, name) is getattr(module, name), name


def test_no_other_product_module_imports_a_private_dagster_module():
    importers = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path != SOURCE and _private_imports(path)
    }
    assert importers == set()


def test_the_code_location_does_not_load_the_scheduler_records():
    # run_health (loaded with the definitions) takes two launcher names; the tick records and
    # the modules they pull in are left to the demo that records ticks.
    code = (
        "import sys, mlops_assets.definitions; "
        "print('dagster._core.scheduler.instigation' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@dg.sensor(job_name="retraining_job")
def _a_sensor() -> None:
    return None


SENSOR_TYPE = _a_sensor.sensor_type


def _origin(sensor: str) -> RemoteInstigatorOrigin:
    location = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="mlops_assets.definitions"), location_name="mlops_assets"
    )
    return RemoteInstigatorOrigin(
        RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME), sensor
    )


def test_a_tick_and_the_sensor_state_are_stored_and_read_back_as_the_ui_reads_them():
    origin = _origin("drift_retraining_sensor")
    origin_id, selector_id = origin.get_id(), origin.get_selector().get_id()
    assert origin.repository_origin.get_label() == "__repository__@mlops_assets"
    data = SensorInstigatorData(
        min_interval=30, last_sensor_start_timestamp=1.0, sensor_type=SENSOR_TYPE
    )
    with dg.instance_for_test() as instance:
        state = InstigatorState(
            origin, InstigatorType.SENSOR, InstigatorStatus.DECLARED_IN_CODE, data
        )
        instance.add_instigator_state(state)

        def started(at: float) -> TickData:
            return TickData(
                instigator_origin_id=origin_id,
                instigator_name="drift_retraining_sensor",
                instigator_type=InstigatorType.SENSOR,
                status=TickStatus.STARTED,
                timestamp=at,
                selector_id=selector_id,
            )

        run_id = make_new_run_id()
        launched = instance.create_tick(started(1.0)).with_run_info(run_id=run_id, run_key="k-1")
        instance.update_tick(
            launched.with_status(TickStatus.SUCCESS, end_timestamp=2.0).with_cursor("c-1")
        )
        try:
            raise RuntimeError("the sensor broke")
        except RuntimeError:
            error = serializable_error_info_from_exc_info(sys.exc_info())
        failed = instance.create_tick(started(2.0))
        instance.update_tick(failed.with_status(TickStatus.FAILURE, error=error, end_timestamp=3.0))
        skipped = instance.create_tick(started(3.0))
        instance.update_tick(
            skipped.with_status(TickStatus.SKIPPED, end_timestamp=4.0).with_reason("nothing new")
        )
        instance.update_instigator_state(
            state.with_data(
                SensorInstigatorData(
                    last_tick_timestamp=1.0,
                    last_run_key="k-1",
                    min_interval=30,
                    cursor="c-1",
                    last_tick_start_timestamp=1.0,
                    last_sensor_start_timestamp=1.0,
                    sensor_type=SENSOR_TYPE,
                    last_tick_success_timestamp=2.0,
                )
            )
        )
        ticks = list(reversed(instance.get_ticks(origin_id, selector_id)))
        stored = instance.get_instigator_state(origin_id, selector_id)
    assert [t.status for t in ticks] == [TickStatus.SUCCESS, TickStatus.FAILURE, TickStatus.SKIPPED]
    assert ticks[0].run_ids == [run_id] and ticks[0].run_keys == ["k-1"]
    assert ticks[0].cursor == "c-1" and len(run_id) == 36
    assert ticks[1].error is not None and "the sensor broke" in ticks[1].error.message
    assert ticks[2].skip_reason == "nothing new"
    assert stored is not None and stored.instigator_data.cursor == "c-1"
    assert stored.instigator_data.last_run_key == "k-1"


def test_the_run_tags_the_runs_tab_filters_on_keep_their_names():
    assert (SENSOR_NAME_TAG, RUN_KEY_TAG, REPOSITORY_LABEL_TAG) == (
        "dagster/sensor_name",
        "dagster/run_key",
        ".dagster/repository",
    )


def test_a_worker_health_result_carries_status_message_and_worker():
    result = CheckRunHealthResult(WorkerStatus.NOT_FOUND, "pid 12 is gone", run_worker_id="12")
    assert (result.status, result.msg, result.run_worker_id) == (
        WorkerStatus.NOT_FOUND,
        "pid 12 is gone",
        "12",
    )
    assert {WorkerStatus.RUNNING, WorkerStatus.NOT_FOUND} <= set(WorkerStatus)


def test_the_executor_interface_run_health_wraps_still_has_its_shape():
    # _WorkerRecordingExecutor forwards these; reliability/test_run_health.py runs it for real.
    execute = inspect.signature(dg.Executor.execute).parameters
    assert list(execute) == ["self", "plan_context", "execution_plan"]
    assert isinstance(PlanOrchestrationContext.run_id, property)
    assert isinstance(PlanOrchestrationContext.instance, property)
    assert inspect.isclass(ExecutionPlan)
    assert {"retries", "step_dependency_config"} <= set(dir(dg.Executor))
    assert RetryMode.DISABLED.value == "disabled" and inspect.isclass(StepDependencyConfig)


def test_a_check_evaluation_names_the_materialization_it_judged():
    target = AssetCheckEvaluationTargetMaterializationData(
        storage_id=7, run_id="run-1", timestamp=1.0
    )
    evaluation = dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey("drift_report"),
        check_name="drift_within_bounds",
        passed=True,
        target_materialization_data=target,
    )
    assert evaluation.target_materialization_data == target
    assert evaluation.target_materialization_data.storage_id == 7


# latest_materialization_target: what the daily checks' Partitions view relies on.
DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01")


@dg.asset(partitions_def=DAYS, check_specs=[dg.AssetCheckSpec("positive", asset="numbers")])
def numbers(context):  # unannotated: this module defers annotations, which Dagster reads
    yield dg.Output(context.partition_key)
    yield dg.AssetCheckResult(check_name="positive", passed=True)


def test_the_target_is_the_days_latest_materialisation_and_none_before_any():
    with dg.instance_for_test() as instance:
        assert latest_materialization_target(instance, numbers.key, "2026-01-02") is None
        for _ in range(2):
            dg.materialize([numbers], partition_key="2026-01-02", instance=instance)
        dg.materialize([numbers], partition_key="2026-01-03", instance=instance)
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=numbers.key, asset_partitions=["2026-01-02"]),
            limit=2,
        ).records

        target = latest_materialization_target(instance, numbers.key, "2026-01-02")

        assert target is not None
        assert (target.storage_id, target.run_id) == (records[0].storage_id, records[0].run_id)
        assert target.storage_id != records[1].storage_id


def test_a_check_evaluation_logged_with_that_target_is_stored_with_it():
    # As daily_monitoring logs a day's check evaluation inside a range run.
    with dg.instance_for_test() as instance:
        dg.materialize([numbers], partition_key="2026-01-02", instance=instance)
        target = latest_materialization_target(instance, numbers.key, "2026-01-02")
        evaluation = dg.AssetCheckEvaluation(
            asset_key=numbers.key,
            check_name="positive",
            passed=False,
            partition="2026-01-02",
            target_materialization_data=target,
        )
        instance.report_runless_asset_event(evaluation)
        key = dg.AssetCheckKey(numbers.key, "positive")
        latest = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)[0]

        stored = latest.event.asset_check_evaluation if latest.event else None
        assert stored is not None and stored.passed is False
        assert stored.target_materialization_data == target
