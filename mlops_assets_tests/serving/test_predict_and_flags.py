"""/predict takes every body /invocations takes; /docs and /openapi.json are served behind the
API key; rows scored with an unseen category, a null or an extra column are flagged per row
(/predict's `warnings`, /invocations' headers) and counted by column and kind."""

from __future__ import annotations

import io
import json
from datetime import date
from urllib.parse import unquote

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlops_assets.domain import synthetic
from mlops_assets_tests.serving.conftest import running_service, wait_ready


def _rows(n: int = 6) -> pd.DataFrame:
    """Rows with every feature present (the built-in data has a few nulls of its own)."""
    rows = synthetic.generate_daily_batch(
        date(2026, 1, 5), n_rows=4 * n, seed=11, with_labels=False
    )
    return rows.dropna().head(n).reset_index(drop=True)


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def _split(frame: pd.DataFrame) -> dict:
    return json.loads(frame.to_json(orient="split", index=False, date_format="iso"))


def _flag_counts(text: str) -> dict[tuple[str, str], float]:
    return {
        (s.labels["column"], s.labels["kind"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "mlops_serving_data_quality_rows_total"
    }


def test_predict_takes_every_body_invocations_takes(service):
    rows = _rows()
    parquet = io.BytesIO()
    rows.to_parquet(parquet, index=False)
    json_type = {"Content-Type": "application/json"}
    bodies = {
        "dataframe_records": (json.dumps({"dataframe_records": _records(rows)}), json_type),
        "dataframe_split": (json.dumps({"dataframe_split": _split(rows)}), json_type),
        "records list": (json.dumps(_records(rows)), json_type),
        "csv": (rows.to_csv(index=False), {"Content-Type": "text/csv"}),
        "parquet": (parquet.getvalue(), {"Content-Type": "application/vnd.apache.parquet"}),
    }
    expected = service.post("/invocations", json={"dataframe_records": _records(rows)})
    assert expected.status_code == 200
    for name, (body, headers) in bodies.items():
        answer = service.post("/predict", data=body, headers=headers)
        assert answer.status_code == 200, (name, answer.text)
        labels = [row["label"] for row in answer.json()["predictions"]]
        assert labels == expected.json()["predictions"], name
        assert all(row["warnings"] == [] for row in answer.json()["predictions"]), name


def test_unseen_categories_nulls_and_extra_columns_are_flagged_per_row_and_counted(service):
    rows = _rows(3).assign(colour="red")
    rows.loc[0, "purpose"] = "yacht"
    rows.loc[1, "income"] = None
    records = _records(rows)
    records[2]["home_ownership"] = None
    before = _flag_counts(service.get("/metrics").text)

    predicted = service.post("/predict", json={"dataframe_records": records})
    assert predicted.status_code == 200, predicted.text
    warnings = [row["warnings"] for row in predicted.json()["predictions"]]
    colour = {"column": "colour", "kind": "extra_column"}
    assert warnings == [
        [{"column": "purpose", "kind": "unseen_category", "value": "yacht"}, colour],
        [{"column": "income", "kind": "null"}, colour],
        [{"column": "home_ownership", "kind": "null"}, colour],
    ]
    summary = predicted.json()["data_quality"]
    assert summary["rows_flagged"] == 3
    assert {(c["column"], c["kind"]): c["rows"] for c in summary["counts"]} == {
        ("income", "null"): 1,
        ("home_ownership", "null"): 1,
        ("purpose", "unseen_category"): 1,
        ("colour", "extra_column"): 3,
    }

    # /invocations: the body stays MLflow's, the flags travel in headers
    invoked = service.post("/invocations", json={"dataframe_records": records})
    assert invoked.status_code == 200
    assert list(invoked.json()) == ["predictions"]
    items = dict(item.split("=") for item in invoked.headers["X-Data-Quality"].split(","))
    assert items == {
        "income:null": "1",
        "home_ownership:null": "1",
        "purpose:unseen_category": "1",
        "colour:extra_column": "3",
    }
    assert invoked.headers["X-Data-Quality-Rows"] == "0,1,2"

    after = _flag_counts(service.get("/metrics").text)
    for key, rows_flagged in {
        ("purpose", "unseen_category"): 1,
        ("income", "null"): 1,
        ("home_ownership", "null"): 1,
        ("colour", "extra_column"): 3,
    }.items():
        assert after[key] - before.get(key, 0) == 2 * rows_flagged, key  # /predict + /invocations

    clean = service.post("/invocations", json={"dataframe_records": _records(_rows(3))})
    assert "X-Data-Quality" not in clean.headers


def test_a_column_name_a_header_cannot_carry_is_percent_encoded(service):
    rows = _rows(2).assign(**{"naïve ✓, col:x": 1})
    answer = service.post("/invocations", json={"dataframe_records": _records(rows)})
    assert answer.status_code == 200, answer.text
    item = answer.headers["X-Data-Quality"]
    column, _, count = item.rpartition("=")
    assert unquote(column) == "naïve ✓, col:x:extra_column"
    assert count == "2"


def test_docs_and_openapi_are_served(service):
    page = service.get("/docs")
    assert page.status_code == 200
    assert "swagger-ui" in page.text and "/openapi.json" in page.text
    spec = service.get("/openapi.json").json()
    for path in ("/invocations", "/predict"):
        content = spec["paths"][path]["post"]["requestBody"]["content"]
        assert set(content) == {"application/json", "text/csv", "application/vnd.apache.parquet"}
    assert {"/health", "/version", "/metrics"} <= set(spec["paths"])


@pytest.mark.slow
def test_docs_and_openapi_sit_behind_the_api_key_and_a_browser_can_log_in(trained, tmp_path):
    key = "docs-k3y"
    with running_service(trained.registry(), tmp_path / "log", api_key=key) as guarded:
        wait_ready(guarded)
        for path in ("/docs", "/openapi.json"):
            refused = guarded.get(path)
            assert refused.status_code == 401
            assert refused.headers["WWW-Authenticate"].startswith("Basic")  # the login prompt
            assert guarded.get(path, auth=("anyone", "wrong")).status_code == 401
            assert guarded.get(path, auth=("anyone", key)).status_code == 200
            assert guarded.get(path, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        spec = guarded.get("/openapi.json", headers={"X-API-Key": key}).json()
        assert set(spec["components"]["securitySchemes"]) == {"bearer", "apiKey", "basic"}
        basic = guarded.post("/predict", json=_records(_rows(2)), auth=("me", key))
        assert basic.status_code == 200


def test_extra_column_names_from_clients_cannot_grow_the_metrics_without_bound():
    from mlops_assets.serving.metrics import MAX_EXTRA_COLUMN_LABELS, ServingMetrics

    metrics = ServingMetrics()
    metrics.flagged([(("purpose", "unseen_category"), 2)], "extra_column")
    for i in range(MAX_EXTRA_COLUMN_LABELS + 30):
        metrics.flagged([((f"junk_{i}" + "x" * 500, "extra_column"), 1)], "extra_column")
    counts = _flag_counts(metrics.exposition().decode())
    extra = {column for column, kind in counts if kind == "extra_column"}
    assert len(extra) == MAX_EXTRA_COLUMN_LABELS + 1
    assert counts[("_other_", "extra_column")] == 30
    assert max(len(column) for column in extra) <= 100
    assert counts[("purpose", "unseen_category")] == 2
