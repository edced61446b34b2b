"""The plain client's runs on a real SQLite store, without Dagster: a day's monitoring run."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_assets.contracts import (
    EVIDENTLY_REPORT_ARTIFACT,
    MONITORING_MODEL_VERSION_TAG,
    MONITORING_PARTITION_TAG,
    MONITORING_RUN_KIND,
    MONITORING_RUN_KIND_TAG,
)
from mlops_assets.registry_client import RegistryClient


def test_a_days_monitoring_run_keeps_its_report_and_a_rerun_of_the_day_replaces_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "mlops"))
    registry = RegistryClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    report = tmp_path / "drift.html"
    report.write_text("<html>drift of 2026-01-05</html>", encoding="utf-8")
    tags = {MONITORING_PARTITION_TAG: "2026-01-05", MONITORING_MODEL_VERSION_TAG: "1"}

    experiment, first = registry.log_monitoring_run("2026-01-05", tags, {"drift": 0.25}, report)
    logged = registry.run_artifact(first, EVIDENTLY_REPORT_ARTIFACT)
    assert logged.read_text(encoding="utf-8") == "<html>drift of 2026-01-05</html>"

    again, second = registry.log_monitoring_run("2026-01-05", tags, {"drift": 0.5}, None)
    assert again == experiment and second != first
    runs = registry.client().search_runs([experiment])  # deleted runs are not listed
    assert [run.info.run_id for run in runs] == [second]
    assert runs[0].data.metrics == {"drift": 0.5}
    assert runs[0].data.tags[MONITORING_RUN_KIND_TAG] == MONITORING_RUN_KIND
    assert runs[0].info.status == "FINISHED"
