"""What a person finds in the MLflow UI, against the real local store: the experiment opens as a
machine-learning experiment (runs and models, not GenAI traces), each version's page says why
the gate decided as it did, and each scored day has a monitoring run beside the training runs
with the day's figures and evidently's HTML, whose headline agrees with our severity."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from mlops_assets.contracts import (
    DAGSTER_RUN_ID_TAG,
    DRIFT_SEVERITY_TAG,
    EVIDENTLY_REPORT_ARTIFACT,
    EXPERIMENT_KIND_TAG,
    GATE_DECISION_TAG,
    MONITORING_MODEL_VERSION_TAG,
    MONITORING_PARTITION_TAG,
)
from mlops_assets.domain.evaluation import significant
from mlops_assets.domain.verdicts import DriftVerdict
from mlops_assets.resources.data_source import ScoringDataSource

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
# The built-in generator drifts from 2026-01-09 (covariate and concept): a critical day.
DRIFT_DAY = "2026-01-10"
CLEAN_DAY = "2026-01-04"


def _score(project, day: str, evidently_html: bool | None = None, job="daily_monitoring_job"):
    """Run `job` for `day`; evidently_html None leaves drift_report's config unset."""
    from mlops_assets.definitions import defs

    config = {} if evidently_html is None else {"evidently_html": evidently_html}
    result = defs.resolve_job_def(job).execute_in_process(
        partition_key=day,
        instance=project.instance,
        resources=project.resources(scoring_source=ScoringDataSource(rows_per_day=800)),
        run_config={"ops": {"daily_monitoring": {"config": {"drift_report": config}}}}
        if config
        else None,
    )
    assert result.success
    (event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "drift_report"
    ]
    return result.run_id, event.materialization.metadata


def _monitoring_runs(registry, day: str):
    client = registry.client()
    return client.search_runs(
        [registry.experiment_id()],
        filter_string=f"tags.`{MONITORING_PARTITION_TAG}` = '{day}'",
    )


def test_the_experiment_is_a_machine_learning_one_and_the_version_page_gives_the_gate_reasons(
    trained,
):
    registry = trained.registry()
    experiment = registry.client().get_experiment_by_name(registry.experiment_name)
    assert experiment.tags[EXPERIMENT_KIND_TAG] == "custom_model_development"

    version = registry.client().get_model_version(registry.model_name, "1")
    assert version.tags[GATE_DECISION_TAG] == "promoted"
    # First who holds which alias and why, then the gate's page.
    assert version.description.startswith("**Role: champion** — v1 holds `champion` (promoted")
    assert "\n\n**Gate decision: Promoted to champion**" in version.description
    assert "judged against champion none" in version.description
    # Each of the gate's checks is a row of the table, its outcome beside it.
    assert re.search(r"\| \S+ \| passed \|", version.description), version.description


def test_an_experiment_made_before_the_kind_tag_gets_it(trained):
    registry = trained.registry()
    client = registry.client()
    experiment_id = registry.experiment_id()
    client.delete_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG)
    assert registry.experiment_id() == experiment_id
    tags = client.get_experiment(experiment_id).tags
    assert tags[EXPERIMENT_KIND_TAG] == "custom_model_development"


@pytest.mark.slow
def test_a_critical_day_has_a_monitoring_run_with_its_figures_and_an_agreeing_evidently_page(
    trained,
):
    registry = trained.registry()
    run_id, metadata = _score(trained, DRIFT_DAY)
    verdict = DriftVerdict.from_metadata(pd.Timestamp(DRIFT_DAY).date(), metadata)
    assert verdict.severity == "critical"

    (run,) = _monitoring_runs(registry, DRIFT_DAY)
    assert run.info.run_name == f"drift {DRIFT_DAY} v1"
    assert run.info.status == "FINISHED"
    assert run.info.experiment_id == registry.experiment_id()  # beside the training runs
    assert run.data.tags[MONITORING_MODEL_VERSION_TAG] == "1"
    assert run.data.tags[DAGSTER_RUN_ID_TAG] == run_id
    assert run.data.tags[DRIFT_SEVERITY_TAG] == "critical"
    # MLflow keeps the figures whole; Dagster's metadata, for people, to 4 significant digits.
    assert significant(run.data.metrics["drifted_share"]) == verdict.drifted_share
    assert significant(run.data.metrics["prediction_psi"]) == verdict.prediction_psi
    assert significant(run.data.metrics["accuracy"]) == verdict.performance.day_value
    assert run.data.metrics["dataset_drift"] == 1.0

    # The link opens the artefact's page in the MLflow UI (http, not file://).
    url = metadata["evidently_report"].value
    assert url == (
        f"http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs/"
        f"{run.info.run_id}/artifacts/{EVIDENTLY_REPORT_ARTIFACT}?workflowType=machine_learning"
    )
    assert metadata["mlflow_monitoring_run"].value == url.replace(
        f"/artifacts/{EVIDENTLY_REPORT_ARTIFACT}", ""
    )
    html = registry.run_artifact(run.info.run_id, EVIDENTLY_REPORT_ARTIFACT).read_text("utf-8")
    # evidently's headline, at our dataset-level share (a quarter of the features).
    assert "Dataset Drift is detected" in html
    assert "NOT detected" not in html
    assert "0.25" in html


@pytest.mark.slow
def test_a_clean_day_reruns_into_one_monitoring_run_whose_evidently_headline_says_no_drift(
    trained,
):
    registry = trained.registry()
    _, first = _score(trained, CLEAN_DAY, evidently_html=True)
    _, second = _score(trained, CLEAN_DAY, evidently_html=True)
    verdict = DriftVerdict.from_metadata(pd.Timestamp(CLEAN_DAY).date(), second)
    assert verdict.severity != "critical"
    (run,) = _monitoring_runs(registry, CLEAN_DAY)  # the first one was replaced
    assert run.info.run_id in second["evidently_report"].value
    assert run.info.run_id not in first["evidently_report"].value
    html = registry.run_artifact(run.info.run_id, EVIDENTLY_REPORT_ARTIFACT).read_text("utf-8")
    assert "Dataset Drift is NOT detected" in html


@pytest.mark.slow
def test_a_clean_day_draws_no_evidently_report_unless_asked_and_evidently_report_job_draws_it(
    trained,
):
    registry = trained.registry()
    _, unasked = _score(trained, CLEAN_DAY)
    assert DriftVerdict.from_metadata(pd.Timestamp(CLEAN_DAY).date(), unasked).severity == "none"
    note = unasked["evidently_report"].value
    assert note.startswith("not drawn: the day's severity is none.")
    assert f"launch evidently_report_job for partition {CLEAN_DAY}" in note
    assert "evidently_report_file" not in unasked
    (run,) = _monitoring_runs(registry, CLEAN_DAY)  # the day's figures are logged all the same
    assert significant(run.data.metrics["drifted_share"]) == unasked["drifted_share"].value
    artifacts = {a.path for a in registry.client().list_artifacts(run.info.run_id, "drift")}
    assert EVIDENTLY_REPORT_ARTIFACT not in artifacts

    _, asked = _score(trained, CLEAN_DAY, job="evidently_report_job")
    (run,) = _monitoring_runs(registry, CLEAN_DAY)
    assert asked["evidently_report"].value.startswith("http://127.0.0.1:5000/#/experiments/")
    assert run.info.run_id in asked["evidently_report"].value
    html = registry.run_artifact(run.info.run_id, EVIDENTLY_REPORT_ARTIFACT).read_text("utf-8")
    assert "Dataset Drift is NOT detected" in html
    # Asking draws the report; the verdict is the one the unasked run recorded.
    assert asked["drifted_share"].value == unasked["drifted_share"].value


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_every_mlflow_link_in_the_dagster_metadata_opens_the_machine_learning_pages(trained):
    """Every MLflow address a person can click in Dagster (URL metadata, and links inside
    Markdown or text metadata) of training and of a critical monitoring day, whose drift
    report links evidently's HTML, carries `workflowType=machine_learning`."""
    import dagster as dg

    _score(trained, DRIFT_DAY, evidently_html=True)
    base = "http://127.0.0.1:5000"
    links = []
    instance = trained.instance
    for key in instance.get_asset_keys():
        for record in instance.fetch_materializations(key, limit=20).records:
            assert record.asset_materialization is not None
            for value in record.asset_materialization.metadata.values():
                if isinstance(value, dg.UrlMetadataValue):
                    links.append(value.url)
                elif isinstance(value, dg.MarkdownMetadataValue | dg.TextMetadataValue):
                    links += re.findall(r"https?://[^\s)\]|'\"]+", value.value)
    mlflow_links = [link for link in links if link.startswith(base)]
    # Training's run, the version, a monitoring run and its evidently page at least.
    assert len(mlflow_links) >= 4, links
    assert any("/artifacts/" in link for link in mlflow_links), mlflow_links
    assert [link for link in mlflow_links if "workflowType=machine_learning" not in link] == []


@pytest.mark.slow
def test_make_mlflow_ui_prints_an_address_that_opens_the_experiment_on_its_runs_in_chromium(
    trained, tmp_path
):
    """`make mlflow-ui` on the project's store, without the job runner, prints the address to
    open; in Chromium, with a fresh browser profile (MLflow's own default: GenAI), that address
    lists the training and monitoring runs, not GenAI traces. Screenshot:
    test-artifacts/mlflow-runs.png.

    The experiment-kind tag alone does not do it in MLflow 3.17: the UI's mode is the
    `workflowType` query parameter (else the browser's last choice, GenAI by default), so the
    printed address, like every link the package writes, carries it."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    _score(trained, "2026-01-11", evidently_html=False)
    port = _free_port()
    printed = tmp_path / "make-mlflow-ui.out"
    with printed.open("w") as out:
        server = subprocess.Popen(
            ["make", "-s", "mlflow-ui", f"MLOPS_HOME={trained.home}", f"MLFLOW_PORT={port}"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert server.poll() is None, "make mlflow-ui exited"
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/health", timeout=2).ok:
                    break
            time.sleep(1)
        # make, mlflow's launcher and one uvicorn worker: no huey consumers, no extra workers.
        group = subprocess.run(
            ["ps", "-o", "pid=,args=", "-g", str(server.pid)], capture_output=True, text=True
        ).stdout.splitlines()
        assert not [line for line in group if "huey" in line], group
        assert len(group) <= 4, group

        found = re.search(r"MLflow UI: open (\S+)", printed.read_text())
        assert found, printed.read_text()
        address = found.group(1)
        registry = trained.registry()
        assert address == f"{url}/#/experiments/{registry.experiment_id()}" + (
            "?workflowType=machine_learning"
        )
        assert "Model training" in printed.read_text()

        ARTIFACTS.mkdir(exist_ok=True)
        screenshot = ARTIFACTS / "mlflow-runs.png"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                ],
            )
            try:
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.goto(address)
                try:
                    page.get_by_text("drift 2026-01-11 v1").first.wait_for(timeout=60_000)
                finally:
                    page.screenshot(path=str(screenshot))
                opened = page.url
                # The runs page, with the registry in the sidebar (GenAI mode hides both).
                runs_heading = page.get_by_role("heading", name="Runs", exact=True).count()
                registry_link = page.get_by_text("Model registry", exact=True).count()
                traces_tab = page.get_by_role("tab", name="Traces", exact=True).count()
                stored_mode = page.evaluate("window.localStorage.getItem('mlflow.workflowType')")
            finally:
                browser.close()
        assert "/traces" not in opened and "/chat" not in opened, opened
        assert "workflowType=genai" not in opened, opened
        # A fresh profile: nothing remembered made it so, the address did.
        assert stored_mode is None, stored_mode
        # A machine-learning experiment has no Traces tab among its first ones.
        assert traces_tab == 0
        assert runs_heading == 1
        assert registry_link >= 1
        assert screenshot.stat().st_size > 20_000
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
