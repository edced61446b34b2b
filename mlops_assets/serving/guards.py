"""The service's outer layers: what every request passes before and after the app.

- `AnswerGuard` (ASGI middleware, outermost): counts every answer by endpoint and status, the
  app's own and those of errors nobody expected (a 500 with MLflow's error shape, logged with
  its traceback).
- `guarded_protocol` (uvicorn's HTTP protocol, below the app):
  - sheds load: when `max_in_flight` requests are accepted and not yet answered, a scoring
    request is answered 503 at once rather than queued behind them. The count is uvicorn's
    tasks, one per request whose headers arrived (reading its body, waiting for a scoring
    thread or being scored), checked where they are created. The 503 is written by the
    callback that parsed the request's head: its body is never read, no task is created. The
    wait for a scoring thread has its own deadline (serving/scoring_pool.py).
  - a connection that has not delivered a request's headers within `header_seconds` of opening
    (or of its previous answer) is closed, with a 408 if it sent a part; uvicorn itself only
    times out a connection idle after an answer (`timeout_keep_alive`), and any byte cancels
    that.
  - requests uvicorn sheds itself beyond `limit_concurrency` connections are counted.

A request's body deadline is the app's (`read_body`): it is read inside a request, where a 408
can be answered.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mlops_assets.serving.metrics import ServingMetrics

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SCORING_ENDPOINTS = frozenset({"/invocations", "/predict"})
ENDPOINTS = SCORING_ENDPOINTS | {"/health", "/ping", "/version", "/metrics", "/docs"}
ENDPOINTS |= {"/openapi.json"}
OTHER_ENDPOINT = "other"
# The client left before its answer (nginx's code): nothing was sent, but it is counted.
CLIENT_CLOSED = 499
RETRY_AFTER_SECONDS = "1"
IN_FLIGHT = "in_flight"


def endpoint_label(path: str) -> str:
    return path if path in ENDPOINTS else OTHER_ENDPOINT


def _body(error_code: str, message: str) -> bytes:
    return json.dumps({"error_code": error_code, "message": message}).encode()


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AnswerGuard:
    """Counts every answer and turns an unexpected error into a counted 500 (see the module)."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counted)
        except Exception:
            log.exception("%s %s failed", scope.get("method"), scope["path"])
            if not status:
                await _answer(
                    counted,
                    500,
                    _body("INTERNAL_ERROR", "the service failed on this request (logged)"),
                    [(b"connection", b"close")],
                )
            status = status or 500
        finally:
            self.metrics.answered(endpoint_label(scope["path"]), status or CLIENT_CLOSED)


_TIMEOUT_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
)


def guarded_protocol(
    metrics: ServingMetrics, header_seconds: float, max_in_flight: int, limit_concurrency: int
) -> type[Any]:
    """uvicorn's httptools protocol with load shedding and a header deadline (see the module)."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    shed_body = _body(
        "OVERLOADED",
        f"{max_in_flight} requests are waiting or being scored (MLOPS_SERVE_MAX_IN_FLIGHT): "
        "retry shortly",
    )
    shed_answer = (
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        b"retry-after: %s\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s"
        % (RETRY_AFTER_SECONDS.encode(), len(shed_body), shed_body)
    )

    body = _body("REQUEST_TIMEOUT", f"the request's headers took over {header_seconds:g} s")
    timeout_answer = _TIMEOUT_408 + b"content-length: %d\r\n\r\n%s" % (len(body), body)

    class GuardedProtocol(HttpToolsProtocol):  # type: ignore[misc]
        _deadline: Any = None
        _partial = False
        _shed = False

        def _arm(self) -> None:
            self._disarm()
            self._partial = False
            self._deadline = self.loop.call_later(header_seconds, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            if self._partial:
                self.transport.write(timeout_answer)
                metrics.answered(OTHER_ENDPOINT, 408)
            metrics.connections_closed.labels("headers" if self._partial else "idle").inc()
            self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            tasks = self.tasks  # the server's, shared by its connections
            metrics.in_flight.set_function(lambda: len(tasks))
            self._arm()

        def data_received(self, data: bytes) -> None:
            self._partial = self._partial or bool(data)
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._disarm()
            by_uvicorn = (
                len(self.connections) >= limit_concurrency or len(self.tasks) >= limit_concurrency
            )
            path = urllib.parse.urlsplit(self.url.decode("latin-1")).path
            idle = self.cycle is None or self.cycle.response_complete  # never cut an answer
            if (
                idle
                and not by_uvicorn
                and len(self.tasks) >= max_in_flight
                and path in SCORING_ENDPOINTS
            ):
                # Answered here, in the callback that parsed the head: a task would wait behind
                # the very requests it is shed for. The body is never read: the connection closes.
                self._shed = True
                self.transport.write(shed_answer)
                self.transport.close()
                metrics.answered(path, 503)
                metrics.shed.labels(IN_FLIGHT).inc()
                return
            super().on_headers_complete()
            if by_uvicorn:  # uvicorn answers it 503 itself, never reaching an app
                metrics.answered(endpoint_label(self.scope.get("path", "")), 503)

        def on_body(self, body: bytes) -> None:
            if not self._shed:
                super().on_body(body)

        def on_message_complete(self) -> None:
            if not self._shed:
                super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self.pipeline:
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedProtocol
