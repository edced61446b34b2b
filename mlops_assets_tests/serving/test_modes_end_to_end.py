"""Shadow, canary and bandit end to end, through the real service to MLflow's aliases.

Real car loans (NannyML's sample shipped in mlops_assets_tests/data/car_loan, Apache-2.0):
v1, the champion, learned from 100 loans; v2 from all 2,000 and kept by the gate as the
challenger (`min_improvement` set beyond reach, as when its offline evidence is thin). The
real service (uvicorn, its watchers, its request log) serves the two shipped days' loans on
two days of its clock, in each mode; the labels land later, as daily files; the daily job
scores the request log as that day's batch, `labels_job` runs `challenger_comparison` (batch
pairs, and the service's own logged pairs), `challenger_sensor` acts on the verdict through
the promotion service, MLflow's `champion` alias moves to v2, and the service's next answer
carries `X-Model-Version: 2` (the blue-green switch). The bandit's traffic moves towards v2
from the delayed labels alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.asset_keys import CHALLENGER_COMPARISON
from mlops_assets.contracts import CANARY_SHARE_TAG, SERVED_MODEL_VERSION_COLUMN
from mlops_assets.domain.serve_modes import ServeMode
from mlops_assets.resources.data_source import (
    LabelsDataSource,
    ScoringDataSource,
    TrainingDataSource,
)
from mlops_assets_tests.conftest import Project
from mlops_assets_tests.monitoring_runs import QUICK
from mlops_assets_tests.serving.conftest import (
    Service,
    logged_rows,
    running_service,
    wait_ready,
)
from mlops_assets_tests.test_challenger_sensor import _tick as sensor_tick

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent.parent / "data" / "car_loan"
DAYS = ("2026-02-06", "2026-02-07")
ID, TARGET = "loan_id", "repaid"
REQUEST_ROWS = 20
"""Rows per request: 30 requests a day."""


def _with_ids(frame: pd.DataFrame, first: int) -> pd.DataFrame:
    return frame.assign(**{ID: np.arange(first, first + len(frame))})


@pytest.fixture(scope="module")
def two_versions(module_project: Project, tmp_path_factory) -> Project:
    """v1 `champion` (100 loans) and v2 `challenger` (2,000 loans, the gate's third outcome)."""
    directory = tmp_path_factory.mktemp("car_loan")
    train = _with_ids(pd.read_csv(DATA / "train.csv"), 0)
    for name, rows in (("weak.csv", train.iloc[:100]), ("full.csv", train)):
        rows.to_csv(directory / name, index=False)

    def source(name: str) -> TrainingDataSource:
        return TrainingDataSource(
            location=str(directory / name),
            target_column=TARGET,
            timestamp_column="timestamp",
            id_columns=ID,
        )

    assert module_project.train(data_source=source("weak.csv")).success
    thin = {"ops": {"registered_model_version": {"config": {"min_improvement": 1.0}}}}
    second = module_project.train(run_config=thin, data_source=source("full.csv"))
    assert second.success
    assert second.output_for_node("registered_model_version").outcome == "challenger"
    return module_project


@pytest.fixture
def project(two_versions: Project, tmp_path: Path) -> Iterator[Project]:
    """The two versions' MLflow store with v1 `champion` and v2 `challenger` (set again by
    hand for each mode: a new tenure of the pair), and a Dagster instance of the test's own."""
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        project = Project(home=two_versions.home, instance=instance)
        _set_role(project, "1", "champion")
        # A promotion by hand keeps the champion it replaced as the (watched) challenger:
        # retire it, so each mode's v2 is an ordinary challenger in a new tenure of the pair.
        if _aliases(project).get("challenger") == "2":
            _set_role(project, "2", "none")
        _set_role(project, "2", "challenger")
        yield project


def _set_role(project: Project, version: str, role: str) -> None:
    from mlops_assets.definitions import defs

    if _aliases(project).get(role) == version:
        return
    config = {"version": version, "role": role, "reason": "test", "requested_by": "test"}
    assert (
        defs.resolve_job_def("promote_version_job")
        .execute_in_process(
            instance=project.instance,
            resources=project.resources(),
            run_config={"ops": {"promote_version": {"config": config}}},
        )
        .success
    )


def _aliases(project: Project) -> dict[str, str]:
    registry = project.registry()
    model = registry.client().get_registered_model(registry.model_name)
    return {alias: str(version) for alias, version in model.aliases.items()}


class Clock:
    """The service's clock: noon of the day being served (the request log's day)."""

    def __init__(self) -> None:
        self.day = date.fromisoformat(DAYS[0])

    def __call__(self) -> datetime:
        return datetime(self.day.year, self.day.month, self.day.day, 12, tzinfo=UTC)


def _serve_day(service: Service, day: str, first_id: int) -> tuple[pd.DataFrame, float]:
    """The day's shipped loans (labels held back), sent in requests of REQUEST_ROWS rows; the
    rows with their ids, and the share of them v2 answered (as the request log records each
    row's answering version; X-Model-Version names it, or both when a request's rows split)."""
    rows = _with_ids(pd.read_csv(DATA / "days" / f"{day}.csv"), first_id)
    for start in range(0, len(rows), REQUEST_ROWS):
        chunk = rows.iloc[start : start + REQUEST_ROWS].drop(columns=[TARGET])
        split = json.loads(chunk.to_json(orient="split", index=False, date_format="iso"))
        answer = service.post("/invocations", json={"dataframe_split": split})
        assert answer.status_code == 200, answer.text
        assert set(answer.headers["X-Model-Version"].split(",")) <= {"1", "2"}
    logged = logged_rows(service, day, len(rows))
    assert len(logged) == len(rows)
    return rows, float((logged[SERVED_MODEL_VERSION_COLUMN].astype(str) == "2").mean())


def _land_labels(labels: Path, day: str, rows: pd.DataFrame) -> None:
    labels.mkdir(exist_ok=True)
    rows[[ID, TARGET]].to_csv(labels / f"{day}.csv", index=False)


def _judge_day(project: Project, day: str, requests: Path, labels: Path) -> dict:
    """The day's runs as the daemon launches them: the daily job scores the request log as the
    day's batch, then labels_job (its labels, realized performance, challenger_comparison)."""
    from mlops_assets.definitions import defs

    resources = project.resources(
        scoring_source=ScoringDataSource(location=str(requests)),
        labels_source=LabelsDataSource(location=str(labels), request_log=str(requests)),
    )
    for job, config in (("daily_monitoring_job", QUICK), ("labels_job", {})):
        result = defs.resolve_job_def(job).execute_in_process(
            partition_key=day, instance=project.instance, resources=resources, run_config=config
        )
        assert result.success, job
    record = project.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=CHALLENGER_COMPARISON, asset_partitions=[day]), limit=1
    ).records[0]
    return {k: getattr(v, "value", v) for k, v in record.asset_materialization.metadata.items()}


def _wait_for(service: Service, check, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 60
    while not check(service.get("/health").json()):
        assert time.monotonic() < deadline, f"{what}: {service.get('/health').json()}"
        time.sleep(0.1)


def _run_mode(project: Project, tmp_path: Path, mode: ServeMode, **settings) -> dict:  # type: ignore[no-untyped-def]
    """Serve both days in `mode`, land each day's labels after it, judge it, tick the sensor;
    stop at the promotion. What each day showed."""
    requests, labels, clock = tmp_path / "requests", tmp_path / "labels", Clock()
    seen: dict = {"days": [], "shares": [], "ticks": [], "health": []}
    with running_service(
        project.registry(),
        requests,
        clock=clock,
        mode=mode,
        labels_directory=labels,
        bandit_state=tmp_path / "bandit.json",
        labels_poll_seconds=3600.0,  # the test reads the labels itself (learn_once)
        **settings,
    ) as service:
        wait_ready(service)
        _wait_for(service, lambda h: h.get("challenger_version") == "2", "challenger loaded")
        for n, day in enumerate(DAYS):
            clock.day = date.fromisoformat(day)
            rows, share = _serve_day(service, day, first_id=100_000 * (n + 1))
            seen["shares"].append(share)
            seen["health"].append(service.get("/health").json())
            _land_labels(labels, day, rows)
            if service.router.bandit is not None:
                service.router.bandit.learn_once()
            seen["days"].append(_judge_day(project, day, requests, labels))
            # The sensor as the code location builds it with the service's MLOPS_SERVE_MODE.
            seen["ticks"].append(sensor_tick(project, mode=mode))
            if _aliases(project).get("champion") == "2":
                break
            if mode == "canary" and "the canary share is now" in seen["ticks"][-1]:
                # The next day is served once the service has polled the stepped share.
                tag = project.registry().version("2").tags[CANARY_SHARE_TAG]
                stepped = (float(json.loads(tag)["share"]), "challenger_sensor")
                _wait_for(
                    service,
                    lambda h, want=stepped: (h["canary_share"], h["canary_share_source"]) == want,
                    "the stepped canary share applied",
                )
        # The blue-green switch: the service follows the alias within a poll.
        _wait_for(service, lambda h: h["model_version"] == "2", "v2 serving as champion")
        after = service.post(
            "/invocations",
            json={
                "dataframe_split": json.loads(
                    rows.drop(columns=[TARGET]).iloc[:1].to_json(orient="split", index=False)
                )
            },
        )
        seen["after"] = after
    return seen


def _promoted_by_the_test(project: Project, seen: dict) -> dict:
    """The first day's 600 labelled rows leave the test undecided; with the second day's v2 is
    promoted on live evidence, MLflow's aliases say so, and the service's next answer is v2's."""
    assert [d["challenger_decision"] for d in seen["days"]] == ["keep_collecting", "promote"]
    last = seen["days"][-1]
    assert (last["champion_version"], last["challenger_version"]) == ("1", "2")
    assert last["challenger_rows"] == 1200
    assert last["challenger_low"] > 0
    assert last["challenger_accuracy"] > last["champion_accuracy"]
    assert "promoted by challenger_test" in seen["ticks"][-1]
    assert _aliases(project) == {"champion": "2"}
    assert seen["after"].status_code == 200
    assert seen["after"].headers["X-Model-Version"] == "2"
    assert seen["after"].headers["X-Model-Role"] == "champion"
    return last


def test_shadow_the_services_pairs_promote_the_better_challenger(project, tmp_path):
    seen = _run_mode(project, tmp_path, "shadow")
    assert seen["shares"] == [0.0, 0.0]  # shadow: the champion answered every row
    _promoted_by_the_test(project, seen)
    first = seen["days"][0]
    # Every served row was logged with both predictions; the batch scored the same rows (the
    # request log is the scoring source), so each id counted once, from the batch.
    assert first["challenger_rows_batch"] == 600
    assert first["challenger_rows_online_duplicates"] == 600
    assert first["challenger_rows_online"] == 0


def test_canary_the_sensor_steps_the_share_the_service_applies_without_restart(project, tmp_path):
    # Configured at 50% until the sensor's first step sets the share from the evidence.
    seen = _run_mode(project, tmp_path, "canary", canary_share=0.5)
    assert seen["ticks"][0].endswith("the canary share is now 5% of live traffic")
    assert seen["health"][0]["canary_share_source"] == "MLOPS_CANARY_SHARE"
    assert (seen["health"][1]["canary_share"], seen["health"][1]["canary_share_source"]) == (
        0.05,
        "challenger_sensor",
    )
    # About half of the first day's ids, about 5% of the second's, met v2 (sticky by id hash).
    assert 0.4 < seen["shares"][0] < 0.6
    assert 0.02 < seen["shares"][1] < 0.09
    _promoted_by_the_test(project, seen)


def test_bandit_the_delayed_labels_move_traffic_to_the_better_model(project, tmp_path):
    seen = _run_mode(project, tmp_path, "bandit")
    # No reward yet: about half each. The first day's label file then rewards each row's
    # answering model, and the second day's traffic goes mostly to v2.
    assert 0.4 < seen["shares"][0] < 0.6
    learned = seen["health"][1]["bandit"]
    assert learned["label_files_read"] == 1
    assert learned["challenger_rewards"] + learned["champion_rewards"] == 600
    assert learned["challenger_mean"] > learned["champion_mean"] + 0.03
    assert seen["shares"][1] > 0.8
    _promoted_by_the_test(project, seen)
