"""With MLflow down and every setting at its default, a step fails within about a minute and a
half, on the documented retry schedule: MLflow's own HTTP retries are bounded by the project's
client (they used to spend about 4 minutes per attempt on a refused connection) and Dagster
retries the step 3 times after 5, 15 and 35 s, each +-5 s. A real process with the environment
a user has (no test settings), against a real closed port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

# One monitoring day in a process of its own, against the MLflow given by MLFLOW_TRACKING_URI;
# prints the step's wall time, its retries and its failure as JSON.
_ONE_DAY = textwrap.dedent(
    """
    import json, time
    import dagster as dg
    from mlops_assets.definitions import defs

    job = defs.resolve_job_def("daily_monitoring_job")
    with dg.instance_for_test() as instance:
        started = time.monotonic()
        result = job.execute_in_process(
            instance=instance, partition_key="2026-01-05", raise_on_error=False
        )
        elapsed = time.monotonic() - started
    events = result.all_events
    retries = [e for e in events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    failures = [e for e in events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    data = failures[0].step_failure_data if failures else None
    print(json.dumps({
        "success": result.success,
        "elapsed": elapsed,
        "retries": len(retries),
        "failure": "" if data is None else (
            data.user_failure_data.description if data.user_failure_data else data.error.message
        ),
    }))
    """
)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # released on close: connections are refused


@pytest.mark.slow
def test_a_step_with_mlflow_down_fails_within_the_documented_bound(tmp_path):
    port = _closed_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLOPS_", "DAGSTER_"))
    }
    env.update(
        MLFLOW_TRACKING_URI=f"http://127.0.0.1:{port}",
        MLOPS_HOME=str(tmp_path / "mlops"),
        DAGSTER_HOME=str(tmp_path / "dagster"),
    )
    (tmp_path / "dagster").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _ONE_DAY],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert not outcome["success"]
    assert outcome["retries"] == 3
    assert f"MLflow at http://127.0.0.1:{port} did not answer" in outcome["failure"]
    # The waits alone are 40 to 70 s (5, 15, 35 s each +-5 s): the retries really waited, and
    # no attempt spent minutes inside MLflow's HTTP retries.
    assert 40 <= outcome["elapsed"] < 90, outcome


def test_the_http_retry_bounds_never_override_what_the_user_set(monkeypatch):
    from mlops_assets.resources.mlflow_registry import HTTP_RETRY_DEFAULTS, MlflowRegistry

    for name in HTTP_RETRY_DEFAULTS:
        monkeypatch.setenv(name, "")  # recorded, so whatever the client sets is undone
        monkeypatch.delenv(name)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "5")
    MlflowRegistry(tracking_uri=f"http://127.0.0.1:{_closed_port()}").client()
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "5"
    assert os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == "1"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "30"
