"""What a person finds in the MLflow UI, against the real local store: the experiment opens as a
machine-learning experiment (runs and models, not GenAI traces), each version's page says why
the gate decided as it did, and each scored day has a monitoring run beside the training runs
with the day's figures and evidently's HTML, whose headline agrees with our severity."""

import re

import pandas as pd
import pytest

from mlops_assets.contracts import (
    DAGSTER_RUN_ID_TAG,
    DRIFT_SEVERITY_TAG,
    EVIDENTLY_REPORT_ARTIFACT,
    EXPERIMENT_KIND_TAG,
    GATE_DECISION_TAG,
    MONITORING_MODEL_VERSION_TAG,
    MONITORING_PARTITION_TAG,
    DriftVerdict,
)
from mlops_assets.resources.data_source import ScoringDataSource

# The built-in generator drifts from 2026-01-09 (covariate and concept): a critical day.
DRIFT_DAY = "2026-01-10"
CLEAN_DAY = "2026-01-04"


def _score(project, day: str, evidently_html: bool = True):
    from mlops_assets.definitions import defs

    result = defs.resolve_job_def("daily_monitoring_job").execute_in_process(
        partition_key=day,
        instance=project.instance,
        resources=project.resources(scoring_source=ScoringDataSource(rows_per_day=800)),
        run_config={"ops": {"drift_report": {"config": {"evidently_html": evidently_html}}}},
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
    assert version.description.startswith("**Gate decision: Promoted to champion**")
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
    assert run.data.metrics["drifted_share"] == pytest.approx(verdict.drifted_share)
    assert run.data.metrics["prediction_psi"] == pytest.approx(verdict.prediction_psi)
    assert run.data.metrics["accuracy"] == pytest.approx(verdict.performance.day_value)
    assert run.data.metrics["dataset_drift"] == 1.0

    # The link opens the artefact's page in the MLflow UI (http, not file://).
    url = metadata["evidently_report"].value
    assert url == (
        f"http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs/"
        f"{run.info.run_id}/artifacts/{EVIDENTLY_REPORT_ARTIFACT}"
    )
    assert metadata["mlflow_monitoring_run"].value == url.split("/artifacts/")[0]
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
    _, first = _score(trained, CLEAN_DAY)
    _, second = _score(trained, CLEAN_DAY)
    verdict = DriftVerdict.from_metadata(pd.Timestamp(CLEAN_DAY).date(), second)
    assert verdict.severity != "critical"
    (run,) = _monitoring_runs(registry, CLEAN_DAY)  # the first one was replaced
    assert run.info.run_id in second["evidently_report"].value
    assert run.info.run_id not in first["evidently_report"].value
    html = registry.run_artifact(run.info.run_id, EVIDENTLY_REPORT_ARTIFACT).read_text("utf-8")
    assert "Dataset Drift is NOT detected" in html
