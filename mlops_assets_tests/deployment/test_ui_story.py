"""The monitoring story as the Dagster UI shows it, after a short `demo.run_loop` in a test
instance: the sensor's page (its ticks, skips with their reasons and the launch, and the runs it
launched), a drift_report day with its failed check, and the asset's plots by partition. One
loop and one dagster-webserver serve every picture; each screenshot is kept in test-artifacts/
and the data behind it is asserted through the webserver's GraphQL API."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from mlops_assets.demo import DayRow, run_loop
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
from mlops_assets.sensor_ticks import CODE_LOCATION

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]
SENSOR = "drift_retraining_sensor"
SENSOR_SELECTOR = {
    "repositoryLocationName": CODE_LOCATION,
    "repositoryName": "__repository__",
    "sensorName": SENSOR,
}
# Days that end yesterday: the UI's partition plots show the newest 120 daily partitions.
LAST_DAY = date.today() - timedelta(days=1)
DAYS = 8
FIRST_DAY = LAST_DAY - timedelta(days=DAYS - 1)
DRIFT_START = FIRST_DAY + timedelta(days=3)


@dataclass
class Story:
    url: str
    rows: list[DayRow]

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = requests.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def story(module_project) -> Iterator[Story]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    project = module_project
    training = TrainingDataSource(synthetic_rows=3000)
    assert project.train(data_source=training).success
    resources = project.resources(
        data_source=training,
        scoring_source=ScoringDataSource(drift_start=DRIFT_START.isoformat()),
    )
    rows = run_loop(project.instance, FIRST_DAY, DAYS, resources=resources, log=lambda _: None)
    port = _free_port()
    # The test instance's storage is its root directory, which the webserver opens as its
    # DAGSTER_HOME; its code location loads the same definitions from workspace.yaml.
    home = Path(project.instance.root_directory)
    # As the project's dagster.yaml does: no sign-up dialog over the pages.
    with (home / "dagster.yaml").open("a") as config:
        config.write("nux:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    server = subprocess.Popen(
        [
            str(REPO / ".venv/bin/dagster-webserver"),
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    story = Story(f"http://127.0.0.1:{port}", rows)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, "dagster-webserver exited"
            with contextlib.suppress(requests.RequestException, AssertionError, KeyError):
                entries = story.graphql(
                    "{ workspaceOrError { ... on Workspace { locationEntries { name "
                    "locationOrLoadError { __typename } } } } }"
                )["workspaceOrError"]["locationEntries"]
                if entries and entries[0]["locationOrLoadError"]["__typename"] == (
                    "RepositoryLocation"
                ):
                    break
            assert time.monotonic() < deadline, "the code location did not load"
            time.sleep(2)
        ARTIFACTS.mkdir(exist_ok=True)
        yield story
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@contextlib.contextmanager
def _page(width: int = 1600, height: int = 1000):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def test_the_sensor_page_shows_the_debounce_skip_and_the_launch_and_lists_its_run(story):
    state = story.graphql(
        """query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
             ... on Sensor { sensorState { runs { id runStatus tags { key value } }
               ticks(limit: 50) { status skipReason runIds } } } } }""",
        {"selector": SENSOR_SELECTOR},
    )["sensorOrError"]["sensorState"]
    ticks = list(reversed(state["ticks"]))  # oldest first, one per scored day
    assert len(ticks) == DAYS
    debounce = next(t for t in ticks if "waiting for 2 (debounce)" in (t["skipReason"] or ""))
    assert debounce["status"] == "SKIPPED"
    (launch,) = [t for t in ticks if t["status"] == "SUCCESS"]
    (run,) = state["runs"]  # the sensor page's Runs tab
    assert launch["runIds"] == [run["id"]]
    assert run["runStatus"] == "SUCCESS"
    assert DRIFT_START.isoformat() in {t["value"] for t in run["tags"]}
    assert ticks.index(launch) == ticks.index(debounce) + 1

    screenshot = ARTIFACTS / "sensor-ticks.png"
    runs_screenshot = ARTIFACTS / "sensor-runs.png"
    with _page(height=1300) as page:
        page.goto(f"{story.url}/locations/{CODE_LOCATION}/sensors/{SENSOR}")
        page.get_by_text("1 run requested").first.wait_for(timeout=60_000)
        # The tick table (its rows have a logs button) is newest first; Dagster 1.13 shows a
        # skip reason as the status tag's tooltip, on hover.
        rows = page.locator("tr", has_text="View logs")
        assert rows.count() == len(ticks)
        row = rows.nth(len(ticks) - 1 - ticks.index(debounce))
        row.locator("td").nth(1).get_by_text("0 runs requested").hover()
        tooltip = page.get_by_text("waiting for 2 (debounce)").first
        tooltip.wait_for(timeout=10_000)
        page.screenshot(path=str(screenshot), full_page=True)
        # Loaded again: the tooltip would cover the buttons.
        page.goto(f"{story.url}/locations/{CODE_LOCATION}/sensors/{SENSOR}")
        page.get_by_role("button", name="Runs", exact=True).click(timeout=60_000)
        page.get_by_text(run["id"][:8]).first.wait_for(timeout=30_000)
        page.screenshot(path=str(runs_screenshot), full_page=True)
    assert screenshot.stat().st_size > 20_000 and runs_screenshot.stat().st_size > 20_000


def test_a_critical_drift_day_is_red_in_the_checks_history_and_partitions(story):
    critical = next(r for r in story.rows if r.severity == "critical")
    executions = story.graphql(
        """query($day: String!) { assetCheckExecutions(assetKey: {path: ["drift_report"]},
             checkName: "drift_within_bounds", partition: $day, limit: 5) {
               status partition evaluation { severity success } } }""",
        {"day": critical.day},
    )["assetCheckExecutions"]
    latest = executions[0]
    assert latest["partition"] == critical.day
    assert (latest["status"], latest["evaluation"]["severity"]) == ("FAILED", "ERROR")

    # Dagster 1.13 shows a partitioned check's results on the asset's Checks tab: the
    # evaluations with their partition, and each day's status in the check's partitions view.
    evaluations = ARTIFACTS / "drift-check-evaluations.png"
    partitions = ARTIFACTS / "drift-check-partitions.png"
    with _page(height=1200) as page:
        page.goto(f"{story.url}/assets/drift_report?view=checks&checkDetail=drift_within_bounds")
        page.get_by_role("tab", name="Execution history").click(timeout=60_000)
        try:
            page.get_by_text(critical.day).first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
        finally:
            page.screenshot(path=str(evaluations), full_page=True)
        page.get_by_role("tab", name="Partitions").last.click()
        page.wait_for_timeout(3000)
        page.screenshot(path=str(partitions), full_page=True)
    assert evaluations.stat().st_size > 20_000 and partitions.stat().st_size > 20_000


def test_the_plots_by_partition_show_drift_share_and_accuracy_by_day(story):
    events = story.graphql(
        """{ assetOrError(assetKey: {path: ["drift_report"]}) { ... on Asset {
             assetMaterializations(limit: 50) { partition metadataEntries { label
               ... on FloatMetadataEntry { floatValue } } } } } }"""
    )["assetOrError"]["assetMaterializations"]
    by_day = {
        e["partition"]: {m["label"]: m.get("floatValue") for m in e["metadataEntries"]}
        for e in events
    }
    assert sorted(by_day) == [r.day for r in story.rows]
    for row in story.rows:
        assert by_day[row.day]["drifted_share"] == pytest.approx(row.drifted_share)
        assert by_day[row.day]["accuracy"] == pytest.approx(row.accuracy)

    screenshot = ARTIFACTS / "drift-report-plots.png"
    # Tall enough for the plots down to drifted_share (they are in alphabetical order). The UI
    # spans the newest 120 daily partitions, so the loop's days sit at the right-hand end.
    with _page(height=2300) as page:
        page.goto(f"{story.url}/assets/drift_report")
        page.get_by_role("button", name="Plots").first.click(timeout=60_000)
        page.get_by_role("button", name="Partitions").first.click()
        page.get_by_text("drifted_share").first.wait_for(timeout=30_000)
        page.get_by_text("accuracy").first.wait_for(timeout=30_000)
        page.wait_for_timeout(2000)
        page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 20_000


def test_the_sensors_decisions_read_as_text_on_drift_reports_events(story):
    """No hovering: each change of the retraining decision is a line of text on the judged
    day's drift_report (Events), the launch with its reason among them."""
    observations = story.graphql(
        """{ assetOrError(assetKey: {path: ["drift_report"]}) { ... on Asset {
             assetObservations(limit: 50) { partition metadataEntries {
               label ... on TextMetadataEntry { text } } } } } }"""
    )["assetOrError"]["assetObservations"]
    decisions = [
        (o["partition"], entry["text"])
        for o in observations
        for entry in o["metadataEntries"]
        if entry["label"] == "retraining_decision"
    ]
    launched = [text for _, text in decisions if text.startswith("launched retraining attempt 1")]
    assert len(launched) == 1, decisions
    assert any("debounce" in text for _, text in decisions), decisions

    # Dagster 1.13's Events tab opens on the newest event, its metadata shown as text: the
    # latest decision reads at once; an earlier one is a click on its event in the list.
    newest = decisions[0][1]
    screenshot = ARTIFACTS / "drift-report-decisions.png"
    with _page(height=1300) as page:
        page.goto(f"{story.url}/assets/drift_report?view=events")
        try:
            page.get_by_text(newest, exact=True).first.wait_for(timeout=60_000)
        finally:
            page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 20_000
