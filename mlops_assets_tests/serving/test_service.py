"""The scoring service on a real champion: MLflow's protocol with MLflow's answers, the schema
contract, body limits, the API key, the metrics, and its readiness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date

import numpy as np
import pandas as pd
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from mlops_assets.domain import synthetic
from mlops_assets_tests.serving.conftest import running_service, wait_ready

DAY = date(2026, 1, 5)


def _rows(n: int = 40, day: date = DAY) -> pd.DataFrame:
    return synthetic.generate_daily_batch(day, n_rows=n, seed=3, with_labels=False)


def _split(frame: pd.DataFrame) -> dict:
    return {
        "dataframe_split": json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
    }


@pytest.fixture(scope="module")
def champion_uri(trained) -> str:  # type: ignore[no-untyped-def]
    registry = trained.registry()
    return registry.client().get_model_version_download_uri(registry.model_name, "1")


def test_invocations_answer_what_mlflow_pyfunc_predicts_on_the_same_raw_rows(service, champion_uri):
    import mlflow.pyfunc
    import mlflow.sklearn

    rows = _rows()
    expected = mlflow.pyfunc.load_model(champion_uri).predict(rows)
    as_split = service.post("/invocations", json=_split(rows))
    records = json.loads(rows.to_json(orient="records", date_format="iso"))
    as_records = service.post("/invocations", json={"dataframe_records": records})
    as_csv = service.post(
        "/invocations", data=rows.to_csv(index=False), headers={"Content-Type": "text/csv"}
    )
    for answer in (as_split, as_records, as_csv):
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": np.asarray(expected).tolist()}
        assert answer.headers["X-Model-Version"] == "1"

    predicted = service.post("/predict", json=records)
    assert predicted.status_code == 200, predicted.text
    body = predicted.json()
    assert (body["model_name"], body["model_version"]) == (service.settings.model_name, "1")
    proba = mlflow.sklearn.load_model(champion_uri).predict_proba(rows)
    labels = [row["label"] for row in body["predictions"]]
    assert labels == np.asarray(expected).tolist()
    served = np.array(
        [[row["probabilities"][c] for c in ("0", "1")] for row in body["predictions"]]
    )
    np.testing.assert_allclose(served, proba, rtol=0, atol=1e-12)


def test_a_missing_or_retyped_column_is_a_422_naming_it_and_counted(service):
    rows = _rows(5)
    missing = service.post("/invocations", json=_split(rows.drop(columns=["income"])))
    assert missing.status_code == 422
    assert missing.json()["columns"] == ["income"]
    assert "income: missing" in missing.json()["message"]

    retyped = rows.assign(age=["forty"] * 5)
    text_in_numeric = service.post("/invocations", json=_split(retyped))
    assert text_in_numeric.status_code == 422
    assert text_in_numeric.json()["columns"] == ["age"]

    numbers_for_categories = service.post(
        "/predict",
        json=json.loads(rows.assign(region=range(5)).to_json(orient="records", date_format="iso")),
    )
    assert numbers_for_categories.status_code == 422
    assert numbers_for_categories.json()["columns"] == ["region"]

    metrics = _samples(service.get("/metrics").text)
    assert metrics[("mlops_serving_validation_failures_total", (("column", "income"),))] >= 1
    assert metrics[("mlops_serving_validation_failures_total", (("column", "age"),))] >= 1


def test_unseen_categories_are_scored_and_extra_columns_ignored(service):
    rows = _rows(4).assign(purpose="space-travel", not_a_feature=1.5)
    answer = service.post("/invocations", json=_split(rows))
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 4


def test_malformed_bodies_are_400_and_other_content_types_415(service):
    assert service.post("/invocations", json={"rows": []}).status_code == 400
    assert (
        service.post(
            "/invocations", data=b"{not json", headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )
    assert service.post("/predict", json={"age": 3}).status_code == 400
    assert (
        service.post(
            "/invocations", data=b"x", headers={"Content-Type": "application/xml"}
        ).status_code
        == 415
    )


def test_a_body_over_the_size_limit_is_refused_with_413(trained, tmp_path):
    with running_service(trained.registry(), tmp_path / "log", max_body_bytes=10_000) as small:
        wait_ready(small)
        rows = _rows(200)
        declared = small.post("/invocations", json=_split(rows))
        assert declared.status_code == 413
        body = json.dumps(_split(rows)).encode()

        def chunks():  # no Content-Length: the limit holds while the body streams
            for start in range(0, len(body), 4096):
                yield body[start : start + 4096]

        streamed = small.post(
            "/invocations", data=chunks(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413
        assert small.post("/invocations", json=_split(rows.head(5))).status_code == 200


def test_the_api_key_guards_every_endpoint_but_health(trained, tmp_path):
    key = "s3cret-key-for-the-test"
    with running_service(trained.registry(), tmp_path / "log", api_key=key) as guarded:
        wait_ready(guarded)
        payload = _split(_rows(3))
        for path in ("/version", "/metrics"):
            assert guarded.get(path).status_code == 401
        assert guarded.post("/invocations", json=payload).status_code == 401
        wrong = guarded.post("/predict", json=[], headers={"X-API-Key": "guess"})
        assert wrong.status_code == 401
        assert wrong.headers["WWW-Authenticate"] == "Bearer"
        bearer = {"Authorization": f"Bearer {key}"}
        assert guarded.post("/invocations", json=payload, headers=bearer).status_code == 200
        assert guarded.get("/version", headers={"X-API-Key": key}).status_code == 200
        assert guarded.get("/metrics", headers=bearer).status_code == 200
        assert guarded.get("/health").status_code == 200


def test_without_an_api_key_the_service_refuses_to_bind_beyond_loopback():
    from mlops_assets.domain.serving import check_bind

    check_bind("127.0.0.1", "")
    check_bind("0.0.0.0", "a-key")
    with pytest.raises(ValueError, match="MLOPS_SERVE_API_KEY"):
        check_bind("0.0.0.0", "")


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_parse_and_count_requests_rows_latency_classes_and_the_served_version(service):
    before = _samples(service.get("/metrics").text)
    rows = _rows(25)
    for _ in range(3):
        assert service.post("/invocations", json=_split(rows)).status_code == 200
    after = _samples(service.get("/metrics").text)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    ok = {"endpoint": "/invocations", "status": "200"}
    assert delta("mlops_serving_requests_total", **ok) == 3
    assert delta("mlops_serving_rows_total", **ok) == 75
    assert delta("mlops_serving_request_duration_seconds_count", endpoint="/invocations") == 3
    classes = delta("mlops_serving_predicted_class_total", model_version="1", label="0") + delta(
        "mlops_serving_predicted_class_total", model_version="1", label="1"
    )
    assert classes == 75
    assert delta("mlops_serving_score_count", model_version="1") == 75
    model_name = service.settings.model_name
    assert (
        after[
            (
                "mlops_serving_model_info",
                (("alias", "champion"), ("model_name", model_name), ("version", "1")),
            )
        ]
        == 1
    )
    assert after[("mlops_serving_model_version", ())] == 1


def test_version_names_the_model_its_training_data_and_schema(service, trained):
    body = service.get("/version").json()
    champion = trained.registry().version_by_alias("champion")
    assert champion is not None
    assert body["model_version"] == champion.version == "1"
    assert body["alias"] == "champion"
    assert body["training_data_hash"] == champion.tags["data_hash"]
    assert body["artifact_sha256"] == champion.tags["model.sha256"]
    assert body["schema_version"].startswith("v1-")


def test_health_is_503_until_a_champion_exists(project, tmp_path):
    with running_service(project.registry(), tmp_path / "log", poll_seconds=0.2) as empty:
        deadline = time.monotonic() + 30
        while not empty.watcher.last_error:  # the first look at the registry
            assert time.monotonic() < deadline
            time.sleep(0.05)
        health = empty.get("/health")
        assert health.status_code == 503
        assert "no `champion`" in health.json()["reason"]
        scored = empty.post("/invocations", json=_split(_rows(2)))
        assert scored.status_code == 503
        assert requests.get(empty.url + "/ping", timeout=5).status_code == 503


def test_the_code_location_never_imports_the_service_or_its_server_libraries():
    import subprocess
    import sys

    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, mlops_assets.definitions; print(sorted(m for m in ('fastapi', "
            "'uvicorn', 'prometheus_client', 'mlops_assets.serving') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"


# In a fresh interpreter: the service built from the environment and its champion loaded from
# the store, then the names of every dagster module imported on the way (none expected).
_BUILD_AND_LOAD = """
import sys
from mlops_assets.serving.__main__ import build_app
from mlops_assets.serving.champion_watcher import ChampionWatcher
from mlops_assets.serving.metrics import ServingMetrics
from mlops_assets.serving.settings import ServeSettings
from mlops_assets.registry_client import RegistryClient

settings = ServeSettings.from_env()
build_app(settings, ServingMetrics())
watcher = ChampionWatcher(
    RegistryClient(tracking_uri=settings.tracking_uri, model_name=settings.model_name),
    settings.poll_seconds,
    ServingMetrics(),
)
assert watcher.check_once(), watcher.last_error
print(watcher.current.version)
print(sorted(m for m in sys.modules if m.split(".")[0] == "dagster"))
"""


def test_the_service_builds_and_loads_its_champion_without_importing_dagster(trained, tmp_path):
    registry = trained.registry()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))},
        "MLOPS_HOME": str(trained.home),
        "MLFLOW_TRACKING_URI": registry.resolved_tracking_uri,
        "MLOPS_MODEL_NAME": registry.model_name,
        "MLOPS_SERVE_LOG_DIR": str(tmp_path / "requests"),
        # The widest mode: the challenger's watcher and the bandit's label reader too.
        "MLOPS_SERVE_MODE": "bandit",
        "MLOPS_SERVE_LABELS_DIR": str(tmp_path / "labels"),
    }
    built = subprocess.run(
        [sys.executable, "-c", _BUILD_AND_LOAD],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    assert built.stdout.split("\n")[:2] == ["1", "[]"], built.stdout


def test_the_service_command_answers_help_without_importing_dagster():
    # -X importtime lists every module the command imported, on stderr.
    shown = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mlops_assets.serving", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    assert "MLOPS_SERVE_" in shown.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in shown.stderr.splitlines()]
    assert "mlops_assets.serving.app" in imported  # the service itself was imported
    assert [m for m in imported if m.split(".")[0] == "dagster"] == []
