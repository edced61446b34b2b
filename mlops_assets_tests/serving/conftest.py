"""The real service on a free 127.0.0.1 port (uvicorn in a thread, the app's lifespan and all),
against the real MLflow store of a project trained by the real training_job."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from mlops_assets.registry_client import RegistryClient
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.serving.__main__ import build_router
from mlops_assets.serving.app import create_app
from mlops_assets.serving.champion_watcher import ChampionWatcher
from mlops_assets.serving.metrics import ServingMetrics
from mlops_assets.serving.modes import ModeRouter
from mlops_assets.serving.request_log import RequestLog
from mlops_assets.serving.server import server_config
from mlops_assets.serving.settings import ServeSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Service:
    url: str
    settings: ServeSettings
    watcher: ChampionWatcher
    request_log: RequestLog
    metrics: ServingMetrics
    router: ModeRouter

    @property
    def port(self) -> int:
        return self.settings.port

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.post(self.url + path, timeout=30, **kwargs)


@contextmanager
def running_service(
    registry: MlflowRegistry,
    log_directory: Path,
    clock: Callable[[], datetime] | None = None,
    **settings: Any,
) -> Iterator[Service]:
    import uvicorn

    port = free_port()
    config = replace(
        ServeSettings(),
        port=port,
        tracking_uri=registry.resolved_tracking_uri,
        model_name=registry.model_name,
        log_directory=log_directory,
        # A long queue deadline unless a test sets one: the tests run Dagster jobs and their
        # clients in the service's process, one GIL for all (a deployed service has none of
        # them), and a request may wait for the scoring thread past the default 0.5 s. Shedding
        # is test_hardening's, which sets its deadlines.
        **{"poll_seconds": 0.5, "queue_seconds": 30.0, **settings},
    )
    metrics = ServingMetrics()
    # The store pinned: a later test's MLOPS_HOME must not move a running service.
    pinned = RegistryClient(tracking_uri=config.tracking_uri, model_name=config.model_name)
    watcher = ChampionWatcher(pinned, config.poll_seconds, metrics)
    log = RequestLog(
        log_directory,
        metrics,
        flush_rows=config.flush_rows,
        flush_seconds=config.flush_seconds,
        max_buffered_rows=config.max_buffered_rows,
    )
    extra = {} if clock is None else {"clock": clock}
    # The mode as `python -m mlops_assets.serving` builds it (MLOPS_SERVE_MODE and its settings).
    router = build_router(config, watcher, log, metrics, pinned)
    app = create_app(config, watcher, log, metrics, router=router, **extra)
    server = uvicorn.Server(server_config(app, config, metrics))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.02)
    try:
        yield Service(f"http://127.0.0.1:{port}", config, watcher, log, metrics, router)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def wait_ready(service: Service, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while service.get("/health").status_code != 200:
        assert time.monotonic() < deadline, f"not ready: {service.watcher.last_error}"
        time.sleep(0.1)


def logged_rows(service: Service, day: str, expected: int, timeout: float = 30) -> Any:
    """The day's request log once it holds `expected` rows. A flush returns at once when the
    log's own writer thread has just taken the rows (at `flush_rows`, or on its timer), before
    its part is renamed into place, so the test waits for the rows rather than the flush."""
    from mlops_assets.domain.data.sources import read_daily

    directory = service.settings.log_directory / day
    deadline = time.monotonic() + timeout
    while True:
        service.request_log.flush()
        parts = list(directory.glob("*.parquet")) if directory.is_dir() else []
        logged = read_daily(directory) if parts else None
        if logged is not None and len(logged) >= expected:
            return logged
        assert time.monotonic() < deadline, f"{directory}: not {expected} rows logged"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def service(trained) -> Iterator[Service]:  # type: ignore[no-untyped-def]
    """The service on the module's trained champion (v1)."""
    with running_service(trained.registry(), trained.home / "requests") as running:
        wait_ready(running)
        yield running
