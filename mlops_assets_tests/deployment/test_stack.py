"""The production topology for real (`scripts/stack.py`, what `make stack` runs): Postgres, the
MLflow server, the gRPC code server, the daemon and the webserver as separate processes, with the
production deploy/dagster.yaml and deploy/workspace.yaml. Driven as a team drives it: through the
webserver's GraphQL API and a real browser, then checked at the source (Postgres run storage, the
MLflow server).

Needs PostgreSQL's server binaries and Debian's Chromium, which `.ci/run` installs (the one place
that runs apt-get): skipped with the reason when missing; under CI a missing piece fails.
"""

import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from scripts.stack import LOCATION_NAME, REQUIRED_DAEMONS, Stack, postgres_bin_dir

# The whole production topology, started once for the module (2.5-3 min).
pytestmark = [pytest.mark.slow, pytest.mark.deployment]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TRAINING_ASSETS = {
    "raw_data",
    "validated_data",
    "trained_model",
    "evaluation_report",
    "registered_model_version",
}
LINEAGE_ASSETS = TRAINING_ASSETS | {"drift_report"}
MODEL_NAME = "credit-default"
REPOSITORY = "__repository__"  # the name Dagster gives the repository of a Definitions object
SENSOR = {
    "repositoryLocationName": LOCATION_NAME,
    "repositoryName": REPOSITORY,
    "sensorName": "drift_retraining_sensor",
}
SCHEDULE = {
    "repositoryLocationName": LOCATION_NAME,
    "repositoryName": REPOSITORY,
    "scheduleName": "daily_batch_prediction_schedule",
}
T = TypeVar("T")
HEARTBEATS = (
    "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy lastHeartbeatTime } } } }"
)


def _missing(what: str, install: list[str]) -> None:
    """Skip, saying what to install. Under CI nothing may be skipped: `.ci/run` installs these
    packages before `make test`, so a missing one fails the test."""
    reason = f"{what} is not installed: run .ci/run as root, or apt-get install {' '.join(install)}"
    if os.environ.get("CI"):
        pytest.fail(reason)
    print(f"SKIPPED: {reason}")
    pytest.skip(reason)


def _until(what: str, probe: Callable[[], T | None], timeout: float, every: float = 2.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if postgres_bin_dir() is None:
        _missing("PostgreSQL", ["postgresql"])
    extra_env = {
        # The schedule fires every minute (it still asks for one run per day): a tick within
        # the test, not at 02:30.
        "MLOPS_SCORING_CRON": "* * * * *",
        # Dagster's own evaluation interval (30 s), not the 5 minutes of a user's instance.
        "MLOPS_SENSOR_INTERVAL_SECONDS": "30",
        # Off until the test turns it on through the API.
        "MLOPS_DRIFT_SENSOR": "off",
    }
    with Stack(tmp_path_factory.mktemp("stack"), extra_env=extra_env, log=print) as running:
        yield running


@pytest.fixture(scope="module")
def training_run(stack: Stack) -> str:
    """training_job launched through the webserver's GraphQL API, as the UI launches it, and
    waited for: queued, dequeued by the daemon, executed by the code server."""
    from dagster_graphql import DagsterGraphQLClient

    # The sensor is on from the start: its ticks (skipped: no drift report yet) come meanwhile.
    started = stack.graphql(
        """mutation($selector: SensorSelector!) {
             startSensor(sensorSelector: $selector) {
               __typename ... on Sensor { sensorState { status } }
               ... on PythonError { message } } }""",
        {"selector": SENSOR},
    )["startSensor"]
    assert started.get("sensorState", {}).get("status") == "RUNNING", started

    client = DagsterGraphQLClient("127.0.0.1", port_number=stack.webserver_port)
    run_id = client.submit_job_execution("training_job", repository_location_name=LOCATION_NAME)

    def finished() -> str | None:
        stack.check_alive()
        status = client.get_run_status(run_id).value
        return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

    status = _until(f"training run {run_id}", finished, timeout=300)
    if status != "SUCCESS":
        failure = stack.graphql(
            """query($id: ID!) { runOrError(runId: $id) { ... on Run {
                 eventConnection(afterCursor: null) { events { __typename message } } } } }""",
            {"id": run_id},
        )
        messages = [e["message"] for e in failure["runOrError"]["eventConnection"]["events"]]
        pytest.fail(f"training_job {status}:\n" + "\n".join(messages[-15:]))

    # With a champion in the registry the daily schedule is turned on, as an operator would;
    # the daemon's first tick comes at the next minute, while the other tests run.
    started = stack.graphql(
        """mutation($selector: ScheduleSelector!) {
             startSchedule(scheduleSelector: $selector) {
               __typename ... on ScheduleStateResult { scheduleState { status } }
               ... on PythonError { message } } }""",
        {"selector": SCHEDULE},
    )["startSchedule"]
    assert started.get("scheduleState", {}).get("status") == "RUNNING", started
    return run_id


def _pg_rows(stack: Stack, query: str, *params: Any) -> list[tuple[Any, ...]]:
    import psycopg2

    # Dagster's own role over TCP, with its password (scram-sha-256), as the services connect.
    with psycopg2.connect(stack.dagster_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def test_training_run_and_its_materialisations_are_in_postgres(stack, training_run):
    ((job, status, tags),) = _pg_rows(
        stack, "SELECT pipeline_name, status, run_body FROM runs WHERE run_id = %s", training_run
    )
    assert (job, status) == ("training_job", "SUCCESS")
    assert json.loads(tags)["tags"]["mlops/purpose"] == "training"
    keys = _pg_rows(
        stack,
        "SELECT DISTINCT asset_key FROM event_logs "
        "WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        training_run,
    )
    assert {json.loads(key)[-1] for (key,) in keys} == TRAINING_ASSETS  # AssetKey.to_string()
    # The run was stored in Postgres because the stack's instance is the production file, not
    # the laptop's top-level dagster.yaml (SQLite).
    assert (stack.dagster_home / "dagster.yaml").read_text() == (
        REPO / "deploy" / "dagster.yaml"
    ).read_text()


def test_champion_model_version_is_in_the_mlflow_server(stack, training_run):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=stack.mlflow_url, registry_uri=stack.mlflow_url)
    champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert champion.run_id
    run = client.get_run(champion.run_id)
    assert run.info.status == "FINISHED"
    # Artefacts went through the server into its file artefact root.
    assert client.list_artifacts(champion.run_id)
    assert any(path.is_file() for path in stack.mlflow_artifacts.rglob("*"))
    assert not (stack.mlops_home / "mlflow.db").exists(), "the run used an embedded store"


def test_code_location_reloads_through_the_api(stack, training_run):
    reloaded = stack.graphql(
        """mutation($name: String!) {
             reloadRepositoryLocation(repositoryLocationName: $name) {
               __typename
               ... on WorkspaceLocationEntry {
                 loadStatus
                 locationOrLoadError {
                   __typename
                   ... on RepositoryLocation { repositories { name } }
                   ... on PythonError { message } } }
               ... on RepositoryLocationNotFound { message }
               ... on ReloadNotSupported { message }
               ... on PythonError { message } } }""",
        {"name": LOCATION_NAME},
    )["reloadRepositoryLocation"]
    assert reloaded["__typename"] == "WorkspaceLocationEntry", reloaded
    assert reloaded["loadStatus"] == "LOADED"
    location = reloaded["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", location
    assert [repo["name"] for repo in location["repositories"]] == [REPOSITORY]


@pytest.mark.browser
def _minimal_node_label(name: str, max_length: int = 18) -> str:
    """The label of a zoomed-out ("minimal") asset node: dagster-webserver's
    `withMiddleTruncation(displayName, {maxLength: 18})` (AssetNodeMinimal), ported as is."""
    overflow = len(name) - max_length
    if overflow <= 0:
        return name
    if max_length <= 10:
        return name[: max_length - 1] + "…"
    pattern = "__" if "__" in name else r"[_>.-]"
    breakpoints = [m.start() for m in re.finditer(pattern, name)]
    breakpoint = (len(name) + overflow) // 2
    usable = next((i for i, bp in enumerate(breakpoints) if bp > overflow + 3), -1)
    if usable != -1:
        breakpoint = breakpoints[max(usable, len(breakpoints) // 2)]
    return name[: breakpoint - (overflow + 1)] + "…" + name[breakpoint:]


def test_minimal_node_labels_match_the_ui_abbreviations():
    # The UI cuts at the middle underscore and keeps 18 characters.
    assert _minimal_node_label("registered_model_version") == "registere…_version"
    assert _minimal_node_label("trained_model") == "trained_model"


def test_asset_lineage_page_shows_every_asset_in_chromium(stack, training_run):
    """Each asset node is found by its full name whatever the layout: a full node carries it in
    `data-tooltip` (AssetNameRow), a zoomed-out node (scale < 0.6) shows the UI's own middle
    truncation of it; which one the fitted graph draws depends on the window and the graph's
    width, so the test accepts either, and takes the asset list from GraphQL."""
    if not CHROMIUM.exists():
        _missing("Chromium", ["chromium"])
    from playwright.sync_api import sync_playwright

    served = stack.graphql("{ assetNodes { assetKey { path } } }")["assetNodes"]
    assert {node["assetKey"]["path"][-1] for node in served} >= LINEAGE_ASSETS
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "asset-lineage.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # The graph leaves nodes outside the window undrawn: wide enough for all of them.
            page = browser.new_page(viewport={"width": 3200, "height": 1800})
            page.goto(f"{stack.webserver_url}/asset-groups")
            # The global lineage opens with one collapsed node per group (data, training,
            # monitoring); the graph's context menu expands them all.
            page.get_by_text("training", exact=True).last.wait_for(timeout=60_000)
            page.mouse.click(1600, 200, button="right")
            page.get_by_role("menuitem", name="Expand all groups").click()

            def node(name: str) -> Any:
                full = page.locator(f'svg foreignObject [data-tooltip="{name}"]')
                minimal = page.locator("svg foreignObject").get_by_text(
                    _minimal_node_label(name), exact=True
                )
                return full.or_(minimal).first

            for name in sorted(LINEAGE_ASSETS):
                node(name).wait_for(timeout=30_000)
            # The nodes show the materialisations of the training run.
            page.get_by_text("Never materialized").first.wait_for(state="detached", timeout=5_000)
            page.screenshot(path=str(screenshot))
            visible = {name for name in LINEAGE_ASSETS if node(name).is_visible()}
            # dagster.yaml turns the sign-up dialog off: nothing covers the graph.
            assert page.get_by_text("Join the Dagster community").count() == 0
        finally:
            browser.close()
    assert visible == LINEAGE_ASSETS
    assert screenshot.stat().st_size > 20_000


def _sensor_ticks(stack: Stack) -> list[dict[str, Any]]:
    data = stack.graphql(
        """query($selector: SensorSelector!) {
             sensorOrError(sensorSelector: $selector) {
               __typename
               ... on Sensor { sensorState { status ticks(limit: 50) {
                 status timestamp skipReason runIds error { message } } } } } }""",
        {"selector": SENSOR},
    )["sensorOrError"]
    return data["sensorState"]["ticks"]


def _schedule_ticks(stack: Stack) -> list[dict[str, Any]]:
    data = stack.graphql(
        """query($selector: ScheduleSelector!) {
             scheduleOrError(scheduleSelector: $selector) {
               __typename
               ... on Schedule { scheduleState { status ticks(limit: 10) {
                 status timestamp skipReason runIds error { message } } } } } }""",
        {"selector": SCHEDULE},
    )["scheduleOrError"]
    return data["scheduleState"]["ticks"]


def test_daemon_runs_the_schedule_and_the_drift_sensor_judges_its_report(stack, training_run):
    from dagster_graphql import DagsterGraphQLClient

    # The sensor has ticked while training ran: the daemon evaluates it in the code server.
    ticks = _sensor_ticks(stack)
    assert ticks, "the daemon recorded no sensor tick"
    assert not [t for t in ticks if t["status"] == "FAILURE"], ticks

    # The schedule's next minute: a tick that requests yesterday's monitoring run.
    def scheduled_run() -> str | None:
        stack.check_alive()
        for tick in _schedule_ticks(stack):
            assert tick["status"] != "FAILURE", tick
            if tick["status"] == "SUCCESS" and tick["runIds"]:
                return tick["runIds"][0]
        return None

    run_id = _until("a schedule tick that launches a run", scheduled_run, timeout=100)
    client = DagsterGraphQLClient("127.0.0.1", port_number=stack.webserver_port)

    def finished() -> str | None:
        status = client.get_run_status(run_id).value
        return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

    assert _until(f"monitoring run {run_id}", finished, timeout=180) == "SUCCESS"
    ((job, partition),) = _pg_rows(
        stack,
        "SELECT pipeline_name, partition FROM runs WHERE run_id = %s",
        run_id,
    )
    assert job == "daily_monitoring_job" and partition
    ((reported_at,),) = _pg_rows(
        stack,
        "SELECT extract(epoch FROM timestamp) FROM event_logs WHERE run_id = %s "
        "AND dagster_event_type = 'ASSET_MATERIALIZATION' AND asset_key LIKE %s",
        run_id,
        '%"drift_report"%',
    )

    # The sensor's next tick reads that drift report and decides, naming the day (one day of
    # drift is not enough to retrain: debounce). Ticks before it found no new report.
    def judged() -> dict[str, Any] | None:
        for tick in _sensor_ticks(stack):
            assert tick["status"] != "FAILURE", tick
            if float(tick["timestamp"]) > float(reported_at) and tick["status"] != "STARTED":
                return tick
        return None

    tick = _until("a sensor tick after the drift report", judged, timeout=90)
    assert tick["runIds"] or partition in (tick["skipReason"] or ""), tick


def _pg_ctl(stack: Stack, *args: str) -> None:
    done = stack.pg_ctl(*args)
    assert done.returncode == 0, f"pg_ctl {' '.join(args)}: {done.stdout}{done.stderr}"


def _heartbeats_since(stack: Stack, moment: float) -> dict[str, bool] | None:
    statuses = stack.graphql(HEARTBEATS)["instance"]["daemonHealth"]["allDaemonStatuses"]
    fresh = {
        s["daemonType"]: bool(s["healthy"]) and (s["lastHeartbeatTime"] or 0) > moment
        for s in statuses
    }
    return fresh if all(fresh.get(name) for name in REQUIRED_DAEMONS) else None


def _finished(stack: Stack, run_id: str) -> tuple[str, list[str]] | None:
    """The run's final status and its step errors, once it has finished."""
    run = stack.graphql(
        """query($id: ID!) { runOrError(runId: $id) { ... on Run { status
             eventConnection(afterCursor: null) { events {
               ... on ExecutionStepFailureEvent { error { message } } } } } } }""",
        {"id": run_id},
    )["runOrError"]
    if run["status"] not in ("SUCCESS", "FAILURE", "CANCELED"):
        return None
    errors = [e["error"]["message"] for e in run["eventConnection"]["events"] if e.get("error")]
    return run["status"], errors


def test_daemon_and_webserver_recover_from_a_postgres_restart(stack, training_run):
    """Last in this module: Postgres restarted under the running stack (open connections cut).
    The daemon's heartbeats resume, the webserver answers from the database again, and a run
    launched afterwards is queued, dequeued and executed, without restarting a Dagster process."""
    restarted_at = datetime.now(UTC).timestamp()
    _pg_ctl(stack, "restart", "-m", "fast")
    try:
        _until(
            "daemon heartbeats after the restart",
            lambda: _quietly(lambda: _heartbeats_since(stack, restarted_at)),
            timeout=120,
        )
        # The webserver holds one pooled connection per storage (`optimize_for_webserver`)
        # and Dagster 1.13 has no pre-ping for it (dagster-io/dagster#33879): the first request
        # that touches each storage after the restart fails once, and SQLAlchemy reconnects.
        # So launchRun may fail a few times, then must succeed with no process restarted.
        launch = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
                 __typename ... on LaunchRunSuccess { run { runId } }
                 ... on PythonError { message } } }"""
        params = {
            "params": {
                "selector": {
                    "repositoryLocationName": LOCATION_NAME,
                    "repositoryName": REPOSITORY,
                    "jobName": "rollback_champion_job",
                },
                "runConfigData": {
                    "ops": {"rollback_champion": {"config": {"reason": "restart test"}}}
                },
            }
        }
        attempts: list[str] = []

        def launched_run() -> dict[str, Any] | None:
            response = requests.post(
                stack.graphql_url, json={"query": launch, "variables": params}, timeout=60
            )
            result = response.json()["data"]["launchRun"]
            attempts.append(result.get("message", result["__typename"])[:200])
            return result if result["__typename"] == "LaunchRunSuccess" else None

        launched = _until("a run launched after the restart", launched_run, timeout=60, every=1)
        assert len(attempts) <= 4, attempts  # at most one stale connection per storage
        assert (
            stack.graphql("{ runsOrError { __typename } }")["runsOrError"]["__typename"] == "Runs"
        )
        run_id = launched["run"]["runId"]
        status, errors = _until(
            "the run after the restart", lambda: _finished(stack, run_id), timeout=180
        )
        assert status == "FAILURE"
        assert any("is the only version that was ever champion" in e for e in errors), errors
    finally:
        # pg_ctl's server is no longer the stack's child: stop it before the stack stops.
        with contextlib.suppress(AssertionError):
            _pg_ctl(stack, "stop", "-m", "fast")


def _quietly(probe: Callable[[], T | None]) -> T | None:
    """A probe that may fail while the database is away counts as not yet."""
    try:
        return probe()
    except Exception:
        return None
