"""The uvicorn server of the service, with its limits: `python -m mlops_assets.serving` and the
tests start the same configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_assets.serving.guards import guarded_protocol
from mlops_assets.serving.metrics import ServingMetrics
from mlops_assets.serving.settings import ServeSettings

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI


def server_config(app: FastAPI, settings: ServeSettings, metrics: ServingMetrics) -> uvicorn.Config:
    """uvicorn's configuration: keep-alive, connection cap and the header deadline from the
    settings; one worker (the champion watcher and the request log live in the process)."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        # One process: the champion watcher and the request log live in it. Scale out with
        # more processes behind a balancer; their parts never collide (host and pid in names).
        workers=1,
        access_log=False,
        lifespan="on",
        http=guarded_protocol(
            metrics, settings.header_seconds, settings.max_in_flight, settings.max_connections
        ),
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.keep_alive_seconds,  # type: ignore[arg-type]
    )
