"""The FastAPI app: MLflow's scoring protocol on the champion, `/predict`, health, version and
metrics. Thin: parsing, the schema check and the answers' shapes are domain/serving.py.

The event loop accepts, reads bodies and answers; parsing and scoring run on the scoring
threads (serving/scoring_pool.py), so a queue of requests never stops the loop from accepting
connections or shedding load. The champion watcher and the request log's writer are threads of
their own, so neither a model load nor a Parquet write runs inside a request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
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
from fastapi.responses import HTMLResponse, Response
from starlette.requests import ClientDisconnect

from mlops_assets.domain.served_rows import ServedRequest
from mlops_assets.domain.serving import (
    PreparedRows,
    RequestError,
    invocation_answer,
    parse_invocation,
    predict_answer,
    prepare_rows,
)
from mlops_assets.domain.serving_quality import EXTRA_COLUMN, DataQuality, assess_rows
from mlops_assets.serving.champion_watcher import ChampionWatcher, ServedModel
from mlops_assets.serving.guards import RETRY_AFTER_SECONDS, AnswerGuard
from mlops_assets.serving.metrics import ServingMetrics
from mlops_assets.serving.modes import ModeRouter
from mlops_assets.serving.openapi import SCORING_BODY, security_schemes
from mlops_assets.serving.request_log import RequestLog
from mlops_assets.serving.scoring_pool import QueueDeadlineExceeded, ScoringPool
from mlops_assets.serving.settings import ServeSettings

# Every answer names the model that made it, whatever the body's shape.
MODEL_NAME_HEADER = "X-Model-Name"
MODEL_VERSION_HEADER = "X-Model-Version"
# `champion` or `challenger`: whose prediction answered (`champion,challenger` when a request's
# rows split between them, with both versions in X-Model-Version in that order).
MODEL_ROLE_HEADER = "X-Model-Role"
REQUEST_ID_HEADER = "X-Request-Id"
# Rows scored but flagged (unseen category, null, extra column): `column:kind=rows` items, and
# the flagged rows' positions. /invocations' body stays MLflow's, so they travel here.
DATA_QUALITY_HEADER = "X-Data-Quality"
DATA_QUALITY_ROWS_HEADER = "X-Data-Quality-Rows"


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
    router: ModeRouter | None = None,
) -> FastAPI:
    """The service; its lifespan starts the watcher, the scoring threads and the log's writer
    and, at shutdown, writes what the log still holds. `clock` stamps the logged rows (UTC):
    their day is the scoring partition they land in. `router` scores in the configured mode
    (the champion alone when None)."""
    pool = ScoringPool(settings.scoring_threads, settings.queue_seconds, metrics)
    router = router or ModeRouter("champion", metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        request_log.start()
        pool.start()
        watcher.start()
        router.start()
        try:
            yield
        finally:
            router.stop()
            watcher.stop()
            pool.close()
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
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            given = credentials.strip()
        elif scheme.lower() == "basic":  # a browser's login prompt (/docs): any user, the key
            try:
                given = base64.b64decode(credentials.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                given = ""
            given = given.partition(":")[2]
        return hmac.compare_digest(given.encode(), api_key)

    def unauthorized(browser: bool = False) -> Response:
        # A browser shows a login prompt for Basic: the documentation pages ask for that.
        challenge = 'Basic realm="mlops-serving"' if browser else "Bearer"
        return _json(
            {"error_code": "UNAUTHENTICATED", "message": "send the API key (Bearer or X-API-Key)"},
            401,
            {"WWW-Authenticate": challenge},
        )

    async def read_body(request: Request) -> bytes:
        limit = settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise RequestError(413, "REQUEST_TOO_LARGE", f"body over {limit} bytes")
        chunks, size = [], 0
        try:
            async with asyncio.timeout(settings.body_seconds):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise RequestError(413, "REQUEST_TOO_LARGE", f"body over {limit} bytes")
                    chunks.append(chunk)
        except TimeoutError:
            raise RequestError(
                408,
                "REQUEST_TIMEOUT",
                f"the body did not arrive within {settings.body_seconds:g} s "
                "(MLOPS_SERVE_BODY_SECONDS)",
            ) from None
        except ClientDisconnect:
            raise RequestError(499, "CLIENT_CLOSED_REQUEST", "the client left") from None
        return b"".join(chunks)

    def scored(
        body: bytes,
        model: ServedModel,
        endpoint: str,
        request_id: str,
        parse: Callable[[bytes, ServedModel], pd.DataFrame],
        answer: Callable[[str, str, Any, Any, Any, DataQuality], dict[str, Any]],
        started: float,
    ) -> Response:
        """Parse, check, score, log and build the answer: all of it on a scoring thread."""
        headers = {MODEL_NAME_HEADER: model.name, MODEL_VERSION_HEADER: model.version}
        rows = 0
        try:
            frame = parse(body, model)
            rows = len(frame)
            prepared: PreparedRows = prepare_rows(frame, model.schema, settings.max_rows)
        except RequestError as error:
            if error.status == 422:
                metrics.refused(error.columns)
            metrics.scored(endpoint, error.status, rows, time.perf_counter() - started)
            return _error(error, headers)
        quality = assess_rows(frame, prepared.features, model.schema, prepared.extra_columns)
        answered = router.answer(model, prepared, request_id)
        y_pred, scores = answered.y_pred, answered.scores
        request_log.append(
            ServedRequest(
                prepared, y_pred, scores, model.version, clock(), request_id, answered.both
            )
        )
        for version, rows_answered in answered.by_version():
            metrics.predicted(
                version, y_pred[rows_answered], scores[rows_answered], model.classifier
            )
        headers[MODEL_VERSION_HEADER] = answered.version
        headers[MODEL_ROLE_HEADER] = answered.role
        headers[REQUEST_ID_HEADER] = request_id
        if not quality.clean:
            metrics.flagged(quality.counts.items(), EXTRA_COLUMN)
            headers[DATA_QUALITY_HEADER] = quality.header()
            headers[DATA_QUALITY_ROWS_HEADER] = quality.rows_header()
        response = _json(
            answer(model.name, answered.version, y_pred, answered.proba, answered.classes, quality),
            headers=headers,
        )
        metrics.scored(endpoint, 200, rows, time.perf_counter() - started)
        return response

    async def score(
        request: Request,
        endpoint: str,
        parse: Callable[[bytes, ServedModel], pd.DataFrame],
        answer: Callable[[str, str, Any, Any, Any, DataQuality], dict[str, Any]],
    ) -> Response:
        if not authorized(request):
            return unauthorized()
        started = time.perf_counter()
        # Read once: a swap during this request changes what the next one gets, not this one.
        model = watcher.current
        if model is None:
            return _json(
                {"error_code": "UNAVAILABLE", "message": watcher.last_error or "loading"}, 503
            )
        headers = {MODEL_NAME_HEADER: model.name, MODEL_VERSION_HEADER: model.version}
        try:
            body = await read_body(request)
        except RequestError as error:
            metrics.scored(endpoint, error.status, 0, time.perf_counter() - started)
            if error.status == 408:  # the rest of the body may still be on its way
                headers["Connection"] = "close"
            return _error(error, headers)
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        try:
            return await pool.run(
                lambda: scored(body, model, endpoint, request_id, parse, answer, started)
            )
        except QueueDeadlineExceeded as error:
            headers["Retry-After"] = RETRY_AFTER_SECONDS
            return _json({"error_code": "OVERLOADED", "message": str(error)}, 503, headers)

    @app.post("/invocations", openapi_extra=SCORING_BODY)
    async def invocations(request: Request) -> Response:
        """MLflow's scoring protocol: JSON `dataframe_split` / `dataframe_records`, CSV, Parquet;
        answers `{"predictions": [...]}` as `mlflow models serve` does. Rows scored with an
        unseen category, a null or an extra column are named in the `X-Data-Quality` and
        `X-Data-Quality-Rows` headers."""
        content_type = request.headers.get("content-type", "")
        return await score(
            request,
            "/invocations",
            lambda body, m: parse_invocation(body, content_type, m.schema.categorical_features),
            lambda name, version, y, p, c, q: invocation_answer(y),
        )

    @app.post("/predict", openapi_extra=SCORING_BODY)
    async def predict(request: Request) -> Response:
        """Every body `/invocations` takes, or a bare JSON list of records; per row the label
        and class probabilities (a regressor: the prediction) and its `warnings`."""
        content_type = request.headers.get("content-type", "")
        return await score(
            request,
            "/predict",
            lambda body, m: parse_invocation(
                body, content_type, m.schema.categorical_features, records_list=True
            ),
            lambda name, version, y, p, c, q: predict_answer(y, p, c, name, version, q),
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
            {
                **status,
                "model_name": model.name,
                "model_version": model.version,
                **router.describe(model.version),
            },
            headers={MODEL_VERSION_HEADER: model.version},
        )

    @app.get("/version")
    async def version(request: Request) -> Response:
        """The served model: name, version, training data hash, schema version, artefact hash."""
        if not authorized(request):
            return unauthorized()
        model = watcher.current
        if model is None:
            return _json({"status": "loading", "reason": watcher.last_error}, 503)
        return _json(model.describe(), headers={MODEL_VERSION_HEADER: model.version})

    @app.get("/metrics")
    async def prometheus(request: Request) -> Response:
        """Prometheus text: requests by status, rows, latency, flags by column, the model."""
        if not authorized(request):
            return unauthorized()
        return Response(metrics.exposition(), media_type=metrics.content_type)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> Response:
        if not authorized(request):
            return unauthorized(browser=True)
        return _json(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> Response:
        from fastapi.openapi.docs import get_swagger_ui_html

        if not authorized(request):
            return unauthorized(browser=True)
        page: HTMLResponse = get_swagger_ui_html(openapi_url="/openapi.json", title=app.title)
        return page

    if api_key:
        app.openapi_schema = None
        base_openapi = app.openapi

        def keyed_openapi() -> dict[str, Any]:
            schema = base_openapi()
            schema.setdefault("components", {})["securitySchemes"] = security_schemes()
            schema["security"] = [{name: []} for name in security_schemes()]
            return schema

        app.openapi = keyed_openapi  # type: ignore[method-assign]

    app.add_middleware(AnswerGuard, metrics=metrics)
    return app
