"""A run whose worker died frees what it holds: the run queue's `mlops/gate=champion` slot.

A run worker killed together with its code server (SIGKILL, out of memory, a restart) never
records the end of its run: the run stays STARTED and holds its slot in the queue for ever.
Dagster's run monitoring (the daemon's `run_monitoring`) fails such a run when its launcher can
check a worker's health, which the default launcher cannot. Two pieces give it that here:

- `in_process_executor`, the code location's executor: Dagster's in-process executor that
  first records its process as the run tag `mlops/run_worker` (pid, start time, boot id, pid
  namespace), so every launched run and every `dagster job execute` says where it runs;
- `ProcessCheckingRunLauncher`, Dagster's `DefaultRunLauncher` whose health check finds that
  process: on the same boot and in the same pid namespace it can prove the worker gone (no such
  pid, or the pid now belongs to a later process) and run monitoring marks the run failed,
  naming the pid and why. Anywhere else it reports the worker running: it never guesses.

The verdict itself is `mlops_assets.domain.run_workers`. `python -m mlops_assets.run_health fail
<run id>` is the operator's way out for a run that cannot be proved dead. The bounds:
docs/reliability.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import dagster as dg

# Dagster 1.13 exports neither name at the top level; both are the launcher's health-check API.
from mlops_assets.dagster_internals import CheckRunHealthResult, WorkerStatus
from mlops_assets.domain.run_workers import Liveness, ProcessIdentity, check_worker, current_process

if TYPE_CHECKING:
    from mlops_assets.dagster_internals import (
        ExecutionPlan,
        PlanOrchestrationContext,
        RetryMode,
        StepDependencyConfig,
    )

RUN_WORKER_TAG = "mlops/run_worker"


def record_run_worker(instance: dg.DagsterInstance, run_id: str) -> ProcessIdentity | None:
    """Tag the run with this process's identity (nothing where the system has no /proc)."""
    worker = current_process()
    if worker is not None:
        instance.add_run_tags(run_id, {RUN_WORKER_TAG: worker.to_tag()})
    return worker


class _WorkerRecordingExecutor(dg.Executor):
    """Dagster's executor `inner`, after recording the process that runs the steps."""

    def __init__(self, inner: dg.Executor):
        self._inner = inner

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[dg.DagsterEvent]:
        record_run_worker(plan_context.instance, plan_context.run_id)
        yield from self._inner.execute(plan_context, execution_plan)

    @property
    def retries(self) -> RetryMode:
        return self._inner.retries

    @property
    def step_dependency_config(self) -> StepDependencyConfig:
        return self._inner.step_dependency_config


def _recording_in_process(init_context: dg.InitExecutorContext) -> dg.Executor:
    create = dg.in_process_executor.executor_creation_fn
    assert create is not None  # Dagster's own executor definition has one
    return _WorkerRecordingExecutor(create(init_context))


in_process_executor = dg.ExecutorDefinition(
    name="in_process",
    config_schema=dg.in_process_executor.config_schema.as_field(),
    executor_creation_fn=_recording_in_process,
    description=(
        "Dagster's in-process executor; the run's process is recorded as the run tag "
        f"`{RUN_WORKER_TAG}`, so that run monitoring can tell when it has died."
    ),
)


def worker_status(run: dg.DagsterRun) -> CheckRunHealthResult:
    """The health of `run`'s worker as run monitoring reads it: NOT_FOUND only when its death is
    proved (same boot and pid namespace, pid gone or reused), else RUNNING."""
    recorded = run.tags.get(RUN_WORKER_TAG)
    worker = ProcessIdentity.from_tag(recorded) if recorded else None
    if worker is None:
        return CheckRunHealthResult(
            WorkerStatus.RUNNING, f"no run worker recorded (tag {RUN_WORKER_TAG}): not checked"
        )
    check = check_worker(worker)
    if check.liveness is Liveness.DEAD:
        return CheckRunHealthResult(
            WorkerStatus.NOT_FOUND,
            f"{check.reason}. The run cannot finish; it is marked failed so that the runs "
            "queued behind it (one mlops/gate=champion run at a time) can start. Launch it "
            "again to redo its work.",
            run_worker_id=str(worker.pid),
        )
    return CheckRunHealthResult(WorkerStatus.RUNNING, check.reason, run_worker_id=str(worker.pid))


class ProcessCheckingRunLauncher(dg.DefaultRunLauncher):
    """Dagster's default launcher (runs in a process of their code server) whose worker health
    run monitoring can check: see the module's docstring."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        return worker_status(run)


def fail_stuck_run(instance: dg.DagsterInstance, run_id: str, reason: str) -> str:
    """Mark an unfinished run failed by hand (an operator's way out for a run whose worker is gone
    but could not be proved gone: another host, no recorded worker). Refuses a run whose worker
    is provably running. Returns what was done."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        raise ValueError(f"no run {run_id} in the Dagster instance at {instance.root_directory}")
    if run.is_finished:
        return f"run {run_id} has already finished ({run.status.value}): nothing to do"
    recorded = run.tags.get(RUN_WORKER_TAG)
    worker = ProcessIdentity.from_tag(recorded) if recorded else None
    if worker is not None:
        check = check_worker(worker)
        if check.liveness is Liveness.ALIVE:
            raise ValueError(
                f"run {run_id}: {check.reason}; terminate it (UI: Terminate) instead of marking "
                "it failed"
            )
    message = f"Marked failed by hand ({reason}): its worker is gone and it could not finish."
    instance.report_run_failed(run, message)
    return f"run {run_id} ({run.job_name}, was {run.status.value}) marked failed: {message}"


def main(argv: list[str] | None = None) -> int:
    """`python -m mlops_assets.run_health fail <run id> [reason]`, with DAGSTER_HOME set."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3) or args[0] != "fail":
        print("usage: python -m mlops_assets.run_health fail <run id> [reason]", file=sys.stderr)
        return 2
    reason = args[2] if len(args) == 3 else "worker gone"
    with dg.DagsterInstance.get() as instance:
        try:
            print(fail_stuck_run(instance, args[1], reason))
        except ValueError as error:
            print(error, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
