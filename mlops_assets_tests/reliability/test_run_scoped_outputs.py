"""Outputs that are not daily partitions are stored per run, so a step reads what its own run
(or the run it re-executes) wrote, never what another run wrote meanwhile. A two-asset graph on
the project's own IO managers: `numbers` (a DataFrame, Parquet) feeds `first_number` (pickled),
which can fail on request, with a step between them that can wait at a barrier."""

import json
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd

from mlops_assets.resources.io_managers import ParquetIOManager, RunScopedPickleIOManager

REPO = Path(__file__).resolve().parents[2]


class NumbersConfig(dg.Config):
    value: int = 0


class BarrierConfig(dg.Config):
    started: str = ""  # a file touched when the step starts
    wait_for: str = ""  # a file the step waits for


class FirstNumberConfig(dg.Config):
    fail: bool = False


@dg.asset(io_manager_key="parquet_io_manager")
def numbers(config: NumbersConfig) -> pd.DataFrame:
    return pd.DataFrame({"value": [config.value]})


@dg.asset(deps=[numbers])
def barrier(config: BarrierConfig) -> None:
    """Between the step that writes `numbers` and the one that reads it (which loads its
    inputs before its body runs): where another run can write `numbers` meanwhile."""
    if config.started:
        Path(config.started).touch()
    while config.wait_for and not Path(config.wait_for).exists():
        time.sleep(0.05)


@dg.asset(deps=[barrier])
def first_number(config: FirstNumberConfig, numbers: pd.DataFrame) -> int:
    if config.fail:
        raise RuntimeError("failing on request")
    return int(numbers["value"].iloc[0])


defs = dg.Definitions(
    assets=[numbers, barrier, first_number],
    jobs=[dg.define_asset_job("numbers_job", executor_def=dg.in_process_executor)],
    resources={"parquet_io_manager": ParquetIOManager(), "io_manager": RunScopedPickleIOManager()},
)


def numbers_job() -> dg.JobDefinition:
    return defs.resolve_job_def("numbers_job")


def _config(value: int, fail: bool = False, started: str = "", wait_for: str = "") -> dict:
    return {
        "ops": {
            "numbers": {"config": {"value": value}},
            "barrier": {"config": {"started": started, "wait_for": wait_for}},
            "first_number": {"config": {"fail": fail}},
        }
    }


# The slow run, in its own process on the same Dagster instance and MLOPS_HOME.
SLOW_RUN = """
import json, sys
import dagster as dg
from mlops_assets_tests.reliability.test_run_scoped_outputs import _config, numbers_job
with dg.DagsterInstance.get() as instance:
    result = numbers_job().execute_in_process(
        instance=instance, run_config=_config(1, started=sys.argv[1], wait_for=sys.argv[2])
    )
    print(json.dumps(result.output_for_node("first_number")))
"""


def test_a_step_reads_its_own_runs_upstream_output_while_another_run_writes(
    project, tmp_path, monkeypatch
):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    started, release = tmp_path / "started", tmp_path / "release"
    with dg.DagsterInstance.get() as instance:  # its databases exist before both processes
        slow = subprocess.Popen(
            [sys.executable, "-c", SLOW_RUN, str(started), str(release)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while not started.exists():  # the slow run has written numbers = 1 and waits
                assert slow.poll() is None, slow.communicate()[1][-3000:]
                assert time.monotonic() < deadline, "the slow run never started first_number"
                time.sleep(0.1)
            # Meanwhile a second run writes numbers = 2 and finishes.
            fast = numbers_job().execute_in_process(instance=instance, run_config=_config(2))
            assert fast.output_for_node("first_number") == 2
        finally:
            release.touch()
        stdout, stderr = slow.communicate(timeout=120)
    assert slow.returncode == 0, stderr[-3000:]
    assert json.loads(stdout.strip().splitlines()[-1]) == 1  # its own numbers, not the newer


def test_reexecution_from_asset_failure_reads_the_parent_runs_output(project):
    """The UI's "re-execute from asset failure" runs only the failed assets, as a child of the
    failed run: their inputs come from that run, even when another run wrote the asset since."""
    instance = project.instance
    failed = numbers_job().execute_in_process(
        instance=instance, run_config=_config(1, fail=True), raise_on_error=False
    )
    assert not failed.success
    later = numbers_job().execute_in_process(instance=instance, run_config=_config(2))
    assert later.output_for_node("first_number") == 2

    # What the webserver does for that button: a run of the failed assets only, whose parent
    # is the failed run (no step outputs carried over), executed from the job's code.
    selection = {dg.AssetKey("first_number")}
    child = instance.create_run_for_job(
        job_def=numbers_job().get_subset(asset_selection=selection),
        run_config=_config(1),
        asset_selection=frozenset(selection),
        parent_run_id=failed.run_id,
        root_run_id=failed.run_id,
    )
    # The run worker's own entry point (`dagster api execute_run`).
    from dagster._core.execution.api import execute_run

    recon = dg.reconstructable(numbers_job).get_subset(asset_selection=selection)
    assert execute_run(recon, child, instance).success
    stored = RunScopedPickleIOManager()._root() / "first_number" / f"{child.run_id}.pickle"
    assert pd.read_pickle(stored) == 1  # the failed run's numbers, not the later run's


def test_pruning_keeps_the_newest_outputs_and_skips_files_gone_meanwhile(project):
    instance = project.instance
    io_manager = ParquetIOManager(keep_runs=3)
    directory = io_manager._root() / "numbers"
    directory.mkdir(parents=True)
    # What another process's pruning leaves between listing and stat: an entry that is gone.
    (directory / "vanished.parquet").symlink_to(directory / "deleted-meanwhile")
    for value in range(5):
        dg.materialize(
            [numbers],
            instance=instance,
            resources={"parquet_io_manager": io_manager},
            run_config={"ops": {"numbers": {"config": {"value": value}}}},
        )
    stored = sorted(p for p in directory.glob("*.parquet") if p.exists())
    assert sorted(int(pd.read_parquet(p)["value"].iloc[0]) for p in stored) == [2, 3, 4]
