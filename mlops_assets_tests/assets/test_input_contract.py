"""The model's input contract survives retraining (issue 29): a table with a boolean column
(NannyML's synthetic car loans, a sample shipped in mlops_assets_tests/data/car_loan; the same
on real tables: test_input_contract_real.py), trained, scored
for two days, retrained on those stored days, promoted; then the original raw files, read as a
user reads them, still score through `mlflow.pyfunc` and through the serving app."""

from pathlib import Path

import dagster as dg
import mlflow.pyfunc
import pandas as pd
import pytest

from mlops_assets.definitions import defs
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
from mlops_assets.resources.io_managers import asset_path
from mlops_assets_tests.failures import step_failure
from mlops_assets_tests.monitoring_runs import run_day_range
from mlops_assets_tests.serving.conftest import running_service, wait_ready

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent.parent / "data" / "car_loan"
DAYS = ("2026-02-06", "2026-02-07")
BOOLEAN = "repaid_loan_on_prev_car"
WINDOW = {"ops": {"raw_data": {"config": {"window_start": DAYS[0], "window_end": DAYS[1]}}}}


def _sources() -> dict[str, object]:
    return {
        "data_source": TrainingDataSource(
            location=str(DATA / "train.csv"), target_column="repaid", timestamp_column="timestamp"
        ),
        "scoring_source": ScoringDataSource(location=str(DATA / "days")),
    }


def _input_types(project, model_uri: str) -> dict[str, str]:
    schema = project.registry().load_pyfunc(model_uri).metadata.get_input_schema()
    return {spec.name: getattr(spec.type, "name", "any") for spec in schema.inputs}


def _promote(project, version: str) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("promote_version_job").execute_in_process(
        instance=project.instance,
        resources=project.resources(),
        run_config={"ops": {"promote_version": {"config": {"version": version, "reason": "test"}}}},
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def retrained(module_project):
    """v1 trained on train.csv, two days scored, v2 trained on those stored days and made
    champion (by the gate, or by hand when the gate keeps it as challenger)."""
    project = module_project
    resources = project.resources(**_sources())
    first = project.train(**_sources())
    assert first.success, step_failure(first)
    scored = run_day_range(project, resources, *DAYS)
    assert scored.success, step_failure(scored)
    second = project.train(run_config=WINDOW, **_sources())
    assert second.success, step_failure(second)
    registry = project.registry()
    client = registry.client()
    version = second.output_for_node("registered_model_version").version
    if not second.output_for_node("registered_model_version").promoted:
        assert _promote(project, version).success
    champion = client.get_model_version_by_alias(registry.model_name, "champion")
    assert str(champion.version) == version
    return project, first, second


def test_the_first_training_fixes_the_boolean_column_in_the_contract(retrained):
    project, first, _ = retrained
    uri = first.output_for_node("trained_model").model_uri
    assert _input_types(project, uri)[BOOLEAN] == "boolean"
    stored = pd.read_parquet(asset_path(dg.AssetKey("scoring_data"), DAYS[0]))
    # The stored day keeps the contract's type: a retraining window reads booleans back.
    assert stored[BOOLEAN].dtype == bool


def test_a_retraining_on_stored_days_keeps_the_champions_input_types(retrained):
    project, first, second = retrained
    before = _input_types(project, first.output_for_node("trained_model").model_uri)
    after = _input_types(project, second.output_for_node("trained_model").model_uri)
    assert after == before


def test_the_gate_ran_both_serving_checks_on_the_retrained_version(retrained):
    project, _, second = retrained
    registry = project.registry()
    version = second.output_for_node("registered_model_version").version
    tags = registry.client().get_model_version(registry.model_name, version).tags
    assert tags["gate.check.input_contract_compatible"] == "passed"
    assert tags["gate.check.servable"] == "passed"


def test_the_promoted_retraining_scores_the_raw_files_through_pyfunc(retrained):
    project, _, _ = retrained
    registry = project.registry()
    mlflow.set_tracking_uri(registry.resolved_tracking_uri)
    try:
        champion = mlflow.pyfunc.load_model(f"models:/{registry.model_name}@champion")
    finally:
        mlflow.set_tracking_uri(None)
    for raw in (pd.read_csv(DATA / "train.csv"), pd.read_csv(DATA / "days" / f"{DAYS[1]}.csv")):
        predictions = champion.predict(raw.drop(columns=["repaid"]))
        assert len(predictions) == len(raw)


def test_the_promoted_retraining_answers_the_raw_rows_through_the_service(retrained, tmp_path):
    project, _, second = retrained
    raw = pd.read_csv(DATA / "days" / f"{DAYS[1]}.csv").drop(columns=["repaid"]).head(50)
    body = {"dataframe_records": raw.to_dict(orient="records")}
    with running_service(project.registry(), tmp_path / "requests") as service:
        wait_ready(service)
        answer = service.post("/invocations", json=body)
    assert answer.status_code == 200, answer.text
    assert (
        answer.headers["x-model-version"]
        == second.output_for_node("registered_model_version").version
    )
    assert len(answer.json()["predictions"]) == 50


def test_a_candidate_whose_signature_narrows_the_champions_is_refused_by_the_gate(
    project, tmp_path
):
    """A table re-inferred with the boolean delivered as yes/no text would declare the column
    `string`: every client sending booleans would be refused, so the gate keeps it out."""
    sources = _sources()
    assert project.train(**sources).success
    raw = pd.read_csv(DATA / "train.csv")
    raw[BOOLEAN] = raw[BOOLEAN].map({True: "yes", False: "no"})
    path = tmp_path / "text.csv"
    raw.to_csv(path, index=False)
    result = project.train(
        run_config={"ops": {"validated_data": {"config": {"reinfer_schema": True}}}},
        data_source=TrainingDataSource(
            location=str(path), target_column="repaid", timestamp_column="timestamp"
        ),
        scoring_source=sources["scoring_source"],
    )
    assert result.success, step_failure(result)
    outcome = result.output_for_node("registered_model_version")
    assert not outcome.promoted
    reasons = " ".join(outcome.reasons)
    assert "input_contract_compatible failed" in reasons
    assert f"column {BOOLEAN!r} typed string, the champion's boolean" in reasons
