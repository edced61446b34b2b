"""The model's input contract survives retraining on real public tables (issue 29, "Done when"):
UCI's online shoppers (a `True`/`False` boolean feature, integer-coded categories) and UCI's
bike sharing (an ISO date, integer-coded categories), samples shipped in
mlops_assets_tests/data/<name>/ with their licences. Each is trained, two daily partitions are
scored and stored, a retraining reads its window from those stored partitions (as
drift_retraining_sensor's runs do), its version is promoted; then the original raw files, read
as a user reads them (`pd.read_csv`, and `pd.read_parquet` of the same rows), still score
through `mlflow.pyfunc` on `models:/<name>@champion` and, as JSON records, through the serving
app. On fcf80bb (the commit issue 29 was measured on) the retrained version declared the
boolean `string` and pyfunc refused the raw file: "Can not safely convert bool to <U0"."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import mlflow.models
import mlflow.pyfunc
import pandas as pd
import pytest

from mlops_assets.definitions import defs
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
from mlops_assets_tests.conftest import Project, _open_project
from mlops_assets_tests.failures import step_failure
from mlops_assets_tests.monitoring_runs import run_day_range
from mlops_assets_tests.serving.conftest import running_service, wait_ready

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent.parent / "data"


@dataclass(frozen=True)
class RealTable:
    """A shipped sample laid out as a user lays it out: train.csv and days/YYYY-MM-DD.csv."""

    name: str
    target: str
    days: tuple[str, str]
    expected_types: dict[str, str]
    """The first version's signature type of the columns this table is here for."""
    timestamp: str = ""
    exclude: str = ""

    @property
    def folder(self) -> Path:
        return DATA / self.name

    def raw_files(self) -> list[Path]:
        return [self.folder / "train.csv", *(self.folder / "days" / f"{d}.csv" for d in self.days)]

    def sources(self) -> dict[str, object]:
        return {
            "data_source": TrainingDataSource(
                location=str(self.folder / "train.csv"),
                target_column=self.target,
                timestamp_column=self.timestamp,
                exclude_columns=self.exclude,
            ),
            "scoring_source": ScoringDataSource(location=str(self.folder / "days")),
        }

    def window(self) -> dict[str, object]:
        first, last = self.days
        return {"ops": {"raw_data": {"config": {"window_start": first, "window_end": last}}}}


SHOPPERS = RealTable(
    name="online_shoppers",
    target="Revenue",
    days=("2026-03-02", "2026-03-03"),
    # Weekend is True/False in the CSV; the integer codes are numeric features (declared Any).
    expected_types={"Weekend": "boolean", "Month": "string", "Region": "any", "Browser": "any"},
)
BIKES = RealTable(
    name="bike_sharing",
    target="cnt",
    days=("2026-06-01", "2026-06-02"),
    expected_types={"weathersit": "any", "season": "any", "hr": "any"},
    # dteday is an ISO date: the time-ordered split's column, never a feature.
    timestamp="dteday",
    # casual + registered = cnt: the target itself.
    exclude="casual,registered",
)


@dataclass(frozen=True)
class Retrained:
    table: RealTable
    project: Project
    first: dg.ExecuteInProcessResult
    second: dg.ExecuteInProcessResult

    def version(self, result: dg.ExecuteInProcessResult) -> str:
        return str(result.output_for_node("registered_model_version").version)


def input_types(project: Project, model_uri: str) -> dict[str, str]:
    """The model's MLflow signature as a client reads it: each input column's type."""
    mlflow.set_tracking_uri(project.registry().resolved_tracking_uri)
    try:
        signature = mlflow.models.get_model_info(model_uri).signature
    finally:
        mlflow.set_tracking_uri(None)
    return {spec.name: getattr(spec.type, "name", "any") for spec in signature.inputs.inputs}


def _promote(project: Project, version: str) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("promote_version_job").execute_in_process(
        instance=project.instance,
        resources=project.resources(),
        run_config={"ops": {"promote_version": {"config": {"version": version, "reason": "test"}}}},
        raise_on_error=False,
    )


@pytest.fixture(scope="module", params=[SHOPPERS, BIKES], ids=lambda t: t.name)
def retrained(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Retrained]:  # type: ignore[no-untyped-def]
    """v1 trained on the table's train.csv, its two days scored and stored, v2 trained on those
    stored days and made champion (by the gate, or by hand when the gate keeps it as
    challenger: what is tested is what a promotion does to clients, not the gate's metrics)."""
    table: RealTable = request.param
    with pytest.MonkeyPatch.context() as env:
        for project in _open_project(tmp_path_factory.mktemp(table.name), env):
            first = project.train(**table.sources())
            assert first.success, step_failure(first)
            scored = run_day_range(project, project.resources(**table.sources()), *table.days)
            assert scored.success, step_failure(scored)
            second = project.train(run_config=table.window(), **table.sources())
            assert second.success, step_failure(second)
            done = Retrained(table, project, first, second)
            if not second.output_for_node("registered_model_version").promoted:
                promoted = _promote(project, done.version(second))
                assert promoted.success, step_failure(promoted)
            registry = project.registry()
            champion = registry.client().get_model_version_by_alias(registry.model_name, "champion")
            assert str(champion.version) == done.version(second) == "2"
            yield done


def test_the_first_version_declares_each_column_as_the_raw_file_delivers_it(retrained):
    uri = retrained.first.output_for_node("trained_model").model_uri
    declared = input_types(retrained.project, uri)
    assert {c: declared[c] for c in retrained.table.expected_types} == (
        retrained.table.expected_types
    )


def test_a_retraining_on_stored_partitions_declares_the_same_type_for_every_column(retrained):
    project = retrained.project
    before = input_types(project, retrained.first.output_for_node("trained_model").model_uri)
    after = input_types(project, retrained.second.output_for_node("trained_model").model_uri)
    assert after == before


def test_the_gate_ran_both_serving_checks_on_the_retrained_version(retrained):
    registry = retrained.project.registry()
    version = retrained.version(retrained.second)
    tags = registry.client().get_model_version(registry.model_name, version).tags
    assert tags["gate.check.input_contract_compatible"] == "passed"
    assert tags["gate.check.servable"] == "passed"


def _load_champion(project: Project):  # type: ignore[no-untyped-def]
    registry = project.registry()
    mlflow.set_tracking_uri(registry.resolved_tracking_uri)
    try:
        return mlflow.pyfunc.load_model(f"models:/{registry.model_name}@champion")
    finally:
        mlflow.set_tracking_uri(None)


def test_the_promoted_retraining_scores_the_original_csv_files_through_pyfunc(retrained):
    champion = _load_champion(retrained.project)
    for path in retrained.table.raw_files():
        # The file as a user reads it, the label column left in, as a scored day holds it.
        raw = pd.read_csv(path)
        assert len(champion.predict(raw)) == len(raw), path


def test_the_promoted_retraining_scores_the_same_rows_read_from_parquet(retrained, tmp_path):
    champion = _load_champion(retrained.project)
    for path in retrained.table.raw_files():
        parquet = tmp_path / f"{path.stem}.parquet"
        pd.read_csv(path).to_parquet(parquet, index=False)
        raw = pd.read_parquet(parquet)
        assert len(champion.predict(raw)) == len(raw), path


def test_the_promoted_retraining_answers_the_raw_rows_as_json_through_the_service(
    retrained, tmp_path
):
    table = retrained.table
    raw = pd.read_csv(table.folder / "days" / f"{table.days[1]}.csv").drop(columns=[table.target])
    # JSON as pandas writes it: booleans as true/false, codes as numbers, dates as ISO text.
    body = {"dataframe_records": raw.to_dict(orient="records")}
    with running_service(retrained.project.registry(), tmp_path / "requests") as service:
        wait_ready(service)
        answer = service.post("/invocations", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-model-version"] == retrained.version(retrained.second)
    assert len(answer.json()["predictions"]) == len(raw)


def test_a_candidate_typing_the_boolean_as_text_is_refused_naming_the_column(project, tmp_path):
    """The online shoppers' Weekend delivered as yes/no text and the contract re-inferred: its
    signature would declare the column `string` and refuse every client sending booleans, so
    `input_contract_compatible` keeps it from champion, naming the column."""
    assert project.train(**SHOPPERS.sources()).success
    raw = pd.read_csv(SHOPPERS.folder / "train.csv")
    raw["Weekend"] = raw["Weekend"].map({True: "yes", False: "no"})
    path = tmp_path / "online_shoppers_text.csv"
    raw.to_csv(path, index=False)
    result = project.train(
        run_config={"ops": {"validated_data": {"config": {"reinfer_schema": True}}}},
        data_source=TrainingDataSource(location=str(path), target_column=SHOPPERS.target),
        scoring_source=SHOPPERS.sources()["scoring_source"],
    )
    assert result.success, step_failure(result)
    outcome = result.output_for_node("registered_model_version")
    assert not outcome.promoted
    reasons = " ".join(outcome.reasons)
    assert "input_contract_compatible failed" in reasons
    assert "column 'Weekend' typed string, the champion's boolean" in reasons
