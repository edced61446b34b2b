"""The monitoring story as the Dagster UI shows it, after a short `demo.run_loop` in a test
instance: the sensor's page (its ticks, skips with their reasons and the launch, and the runs it
launched), a drift_report day with its failed check, and the asset's plots by partition. One
loop and one dagster-webserver serve every picture; each screenshot is kept in test-artifacts/
and the data behind it is asserted through the webserver's GraphQL API."""

import contextlib
import os
import re
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

from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
from mlops_assets.tools.demo import DayRow, run_loop
from mlops_assets.tools.sensor_ticks import CODE_LOCATION

pytestmark = [pytest.mark.slow, pytest.mark.browser]

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
    # The daily partitions start at the loop's first day, as `make ui`'s start at the demo's:
    # the check's Partitions view then shows the loop's days, not a year of untried ones.
    env = {**os.environ, "DAGSTER_HOME": str(home), "MLOPS_SCORING_START": FIRST_DAY.isoformat()}
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


DAILY_CHECKS = {
    "drift_report": "drift_within_bounds",
    "estimated_performance": "estimated_performance_held",
    "realized_performance": "realized_performance_held",
    "scoring_data": "scoring_data_conforms",
}


def _partition_statuses(story: Story, asset: str, check: str) -> dict[str, str]:
    """What the check's Partitions view colours, day by day (its `partitionStatuses` ranges:
    the UI paints FAILED red, SUCCEEDED green and a day in no range grey, as missing)."""
    node = story.graphql(
        """query($key: AssetKeyInput!, $check: String!) { assetNodeOrError(assetKey: $key) {
             ... on AssetNode { assetCheckOrError(checkName: $check) { ... on AssetCheck {
               partitionStatuses { ... on AssetCheckTimePartitionStatuses {
                 ranges { startKey endKey status } } } } } } } }""",
        {"key": {"path": [asset]}, "check": check},
    )["assetNodeOrError"]["assetCheckOrError"]
    statuses = {}
    for span in node["partitionStatuses"]["ranges"]:
        day, end = date.fromisoformat(span["startKey"]), date.fromisoformat(span["endKey"])
        while day <= end:
            statuses[day.isoformat()] = span["status"]
            day += timedelta(days=1)
    return statuses


def _latest_results(story: Story, asset: str, check: str) -> dict[str, str]:
    """Each day's latest evaluation as its detail pane shows it: PASSED, WARN or ERROR."""
    executions = story.graphql(
        """query($key: AssetKeyInput!, $check: String!) { assetCheckExecutions(assetKey: $key,
             checkName: $check, limit: 100) { partition evaluation { severity success } } }""",
        {"key": {"path": [asset]}, "check": check},
    )["assetCheckExecutions"]
    results: dict[str, str] = {}
    for execution in executions:  # newest first
        evaluation = execution["evaluation"]
        passed = "PASSED" if evaluation["success"] else evaluation["severity"]
        results.setdefault(execution["partition"], passed)
    return results


def test_every_daily_check_paints_each_day_red_or_green_in_its_partitions_view(story):
    days = [row.day for row in story.rows]
    seen = {}
    for asset, check in DAILY_CHECKS.items():
        statuses = _partition_statuses(story, asset, check)
        results = _latest_results(story, asset, check)
        for day in days:
            if day not in results:  # realized_performance: labels still on their way
                assert asset == "realized_performance" and day not in statuses, (asset, day)
                continue
            expected = "SUCCEEDED" if results[day] == "PASSED" else "FAILED"
            assert statuses.get(day, "missing") == expected, (asset, day, results[day])
        seen[asset] = results
    critical = next(r for r in story.rows if r.severity == "critical")
    clean = story.rows[0]
    assert seen["drift_report"][critical.day] == "ERROR"
    assert seen["drift_report"][clean.day] == "PASSED"
    assert "WARN" in seen["estimated_performance"].values()  # the estimate's drop: a warning
    assert "PASSED" in seen["estimated_performance"].values()

    # Dagster 1.13 shows a partitioned check's results on the asset's Checks tab: the
    # evaluations with their partition, and each day's status in the check's Partitions view
    # (red: failed, whatever the severity; the selected day's pane says WARN or ERROR).
    evaluations = ARTIFACTS / "drift-check-evaluations.png"
    with _page(height=1200) as page:
        page.goto(f"{story.url}/assets/drift_report?view=checks&checkDetail=drift_within_bounds")
        page.get_by_role("tab", name="Execution history").click(timeout=60_000)
        try:
            page.get_by_text(critical.day).first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
        finally:
            page.screenshot(path=str(evaluations), full_page=True)
        for asset, check, picture in (
            ("drift_report", "drift_within_bounds", "drift-check-partitions.png"),
            (
                "estimated_performance",
                "estimated_performance_held",
                "estimate-check-partitions.png",
            ),
        ):
            failed = sum(1 for r in seen[asset].values() if r != "PASSED")
            page.goto(f"{story.url}/assets/{asset}?view=checks&checkDetail={check}")
            # The check's own tabs (the asset has a Partitions tab too), once they are drawn.
            page.get_by_role("tab", name="Execution history").wait_for(timeout=60_000)
            page.get_by_role("tab", name="Partitions").last.click()
            page.wait_for_timeout(4000)
            text = page.inner_text("body")
            # The newest failed day selected: its pane tags it yellow (WARN) or red (ERROR).
            newest_failed = max(d for d, r in seen[asset].items() if r != "PASSED")
            # (The list's truncating cell also keeps an invisible copy of the text to measure.)
            page.locator(f'text="{newest_failed}" >> visible=true').first.click()
            page.wait_for_timeout(2000)
            page.screenshot(path=str(ARTIFACTS / picture), full_page=True)
            # The view's own counts: every loop day failed or passed, none missing.
            assert re.search(rf"Failed\s*\(?{failed}\)?", text), text
            assert re.search(r"Missing\s*\(?0\)?", text), text


def test_the_lineage_opens_in_lifecycle_order_data_training_monitoring(story):
    """Several groups open collapsed in Dagster 1.13's global lineage, laid out by their edges:
    the three boxes read left to right as the lifecycle, and expanded, so do the assets."""
    collapsed = ARTIFACTS / "asset-lineage-groups.png"
    expanded = ARTIFACTS / "asset-lineage-expanded.png"
    groups = ("data", "training", "monitoring")
    chain = ("raw_data", "validated_data", "trained_model", "batch_predictions", "drift_report")
    with _page(width=2400, height=1200) as page:
        page.goto(f"{story.url}/asset-groups")
        graph = page.locator("svg foreignObject")
        boxes = {}
        for name in groups:
            box = graph.get_by_text(name, exact=True).first
            box.wait_for(timeout=60_000)
            boxes[name] = box.bounding_box()["x"]
        page.get_by_text("fetching statuses").first.wait_for(state="detached", timeout=30_000)
        page.screenshot(path=str(collapsed))
        assert sorted(groups, key=boxes.__getitem__) == list(groups), boxes
        page.goto(
            f"{story.url}/asset-groups?expanded={','.join(f'global@global:{g}' for g in groups)}"
        )
        nodes = {}
        for name in chain:
            # A full node names itself in `data-tooltip`; a zoomed-out one shows the name (each
            # of these is short enough for the UI to leave it whole).
            node = page.locator(f'svg foreignObject [data-tooltip="{name}"]').or_(
                graph.get_by_text(name, exact=True)
            )
            node = node.first
            node.wait_for(timeout=60_000)
            nodes[name] = node.bounding_box()["x"]
        page.wait_for_timeout(1500)
        page.screenshot(path=str(expanded))
    assert sorted(chain, key=nodes.__getitem__) == list(chain), nodes


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
