"""The FastAPI app: MLflow's scoring protocol on the champion, `/predict`, health, version and
metrics. Thin: parsing, the schema check and the answers' shapes are domain/serving.py.

Scoring runs on the event loop, not in a thread pool: a scikit-learn pipeline holds the GIL
for most of a request, so threads would add switching, not throughput (`make bench`). The
champion watcher and the request log's writer are threads of their own, so neither a model
load nor a Parquet write runs inside a request.
"""

from __future__ import annotations

import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import Response

from mlops_assets.domain.serving import (
    PreparedRows,
    RequestError,
    ServedRequest,
    invocation_answer,
    parse_invocation,
    parse_records,
    predict_answer,
    prepare_rows,
)
from mlops_assets.domain.training import predict_frame, prediction_score
from mlops_assets.serving.champion_watcher import ChampionWatcher, ServedModel
from mlops_assets.serving.metrics import ServingMetrics
from mlops_assets.serving.request_log import RequestLog
from mlops_assets.serving.settings import ServeSettings

# Every answer names the model that made it, whatever the body's shape.
MODEL_NAME_HEADER = "X-Model-Name"
MODEL_VERSION_HEADER = "X-Model-Version"
REQUEST_ID_HEADER = "X-Request-Id"


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, allow_nan=False, separators=(",", ":")).encode(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _error(error: RequestError, headers: dict[str, str] | None = None) -> Response:
    return _json(error.to_json(), error.status, headers)


def create_app(
    settings: ServeSettings,
    watcher: ChampionWatcher,
    request_log: RequestLog,
    metrics: ServingMetrics,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FastAPI:
    """The service; its lifespan starts the watcher and the log's writer and, at shutdown,
    writes what the log still holds. `clock` stamps the logged rows (UTC): their day is the
    scoring partition they land in."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        request_log.start()
        watcher.start()
        try:
            yield
        finally:
            watcher.stop()
            request_log.close()

    app = FastAPI(
        title="mlops-assets scoring",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    api_key = settings.api_key.encode()

    def authorized(request: Request) -> bool:
        if not api_key:
            return True
        given = request.headers.get("x-api-key", "")
        bearer = request.headers.get("authorization", "")
        if bearer.lower().startswith("bearer "):
            given = bearer[7:].strip()
        return hmac.compare_digest(given.encode(), api_key)

    def unauthorized(endpoint: str) -> Response:
        metrics.answered(endpoint, 401, 0)
        return _json(
            {"error_code": "UNAUTHENTICATED", "message": "send the API key (Bearer or X-API-Key)"},
            401,
            {"WWW-Authenticate": "Bearer"},
        )

    async def read_body(request: Request) -> bytes:
        limit = settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise RequestError(413, "REQUEST_TOO_LARGE", f"body over {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestError(413, "REQUEST_TOO_LARGE", f"body over {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def score(
        request: Request,
        endpoint: str,
        parse: Callable[[bytes, ServedModel], pd.DataFrame],
        answer: Callable[[ServedModel, Any, Any, Any], dict[str, Any]],
    ) -> Response:
        if not authorized(request):
            return unauthorized(endpoint)
        started = time.perf_counter()
        # Read once: a swap during this request changes what the next one gets, not this one.
        model = watcher.current
        if model is None:
            metrics.answered(endpoint, 503, 0)
            return _json(
                {"error_code": "UNAVAILABLE", "message": watcher.last_error or "loading"}, 503
            )
        headers = {MODEL_NAME_HEADER: model.name, MODEL_VERSION_HEADER: model.version}
        rows = 0
        try:
            frame = parse(await read_body(request), model)
            rows = len(frame)
            prepared: PreparedRows = prepare_rows(frame, model.schema, settings.max_rows)
        except RequestError as error:
            if error.status == 422:
                metrics.refused(error.columns)
            metrics.answered(endpoint, error.status, rows, time.perf_counter() - started)
            return _error(error, headers)
        y_pred, proba, classes = predict_frame(model.pipeline, prepared.features, model.schema.task)
        scores = prediction_score(y_pred, proba, model.schema.task)
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        request_log.append(
            ServedRequest(prepared, y_pred, scores, model.version, clock(), request_id)
        )
        metrics.predicted(model.version, y_pred, scores, model.classifier)
        response = _json(
            answer(model, y_pred, proba, classes),
            headers={**headers, REQUEST_ID_HEADER: request_id},
        )
        metrics.answered(endpoint, 200, rows, time.perf_counter() - started)
        return response

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        """MLflow's scoring protocol: JSON dataframe_split / dataframe_records, CSV, Parquet."""
        content_type = request.headers.get("content-type", "")
        return await score(
            request,
            "/invocations",
            lambda body, m: parse_invocation(body, content_type, m.schema.categorical_features),
            lambda m, y, p, c: invocation_answer(y),
        )

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        """A JSON list of records; per row the label and class probabilities."""
        return await score(
            request,
            "/predict",
            lambda body, m: parse_records(body),
            lambda m, y, p, c: predict_answer(y, p, c, m.name, m.version),
        )

    @app.get("/health")
    @app.get("/ping")  # MLflow's clients wait on /ping
    async def health() -> Response:
        """Ready once a champion is loaded (open to all: load balancers probe it)."""
        model = watcher.current
        if model is None:
            return _json({"status": "loading", "reason": watcher.last_error}, 503)
        # A registry that answers with an error (not an outage): the loaded version keeps
        # serving (200, so probes keep routing to it), the body says what is wrong.
        status = (
            {"status": "unhealthy", "reason": watcher.store_error}
            if watcher.store_error
            else {"status": "ok"}
        )
        return _json(
            {**status, "model_name": model.name, "model_version": model.version},
            headers={MODEL_VERSION_HEADER: model.version},
        )

    @app.get("/version")
    async def version(request: Request) -> Response:
        if not authorized(request):
            return unauthorized("/version")
        model = watcher.current
        if model is None:
            return _json({"status": "loading", "reason": watcher.last_error}, 503)
        return _json(model.describe(), headers={MODEL_VERSION_HEADER: model.version})

    @app.get("/metrics")
    async def prometheus(request: Request) -> Response:
        if not authorized(request):
            return unauthorized("/metrics")
        return Response(metrics.exposition(), media_type=metrics.content_type)

    return app
