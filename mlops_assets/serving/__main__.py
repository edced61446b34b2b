"""`python -m mlops_assets.serving`: the scoring service on MLOPS_SERVE_HOST:MLOPS_SERVE_PORT."""

from __future__ import annotations

import logging
import os
import sys

from mlops_assets.contracts import CHALLENGER_ALIAS
from mlops_assets.domain.serving import check_bind
from mlops_assets.registry_client import RegistryClient
from mlops_assets.serving.app import create_app
from mlops_assets.serving.bandit_learner import BanditLearner
from mlops_assets.serving.champion_watcher import ChampionWatcher
from mlops_assets.serving.metrics import ServingMetrics
from mlops_assets.serving.modes import ModeRouter
from mlops_assets.serving.request_log import RequestLog
from mlops_assets.serving.server import server_config
from mlops_assets.serving.settings import ServeSettings


def build_app(settings: ServeSettings, metrics: ServingMetrics):
    """The app with its watchers, request log, mode and metrics, as configured."""
    # Resolved once: the embedded store's path must not follow a later change of MLOPS_HOME.
    uri = RegistryClient(tracking_uri=settings.tracking_uri).resolved_tracking_uri
    registry = RegistryClient(tracking_uri=uri, model_name=settings.model_name)
    watcher = ChampionWatcher(registry, settings.poll_seconds, metrics)
    request_log = RequestLog(
        settings.log_directory,
        metrics,
        flush_rows=settings.flush_rows,
        flush_seconds=settings.flush_seconds,
        max_buffered_rows=settings.max_buffered_rows,
    )
    return create_app(
        settings,
        watcher,
        request_log,
        metrics,
        router=build_router(settings, watcher, request_log, metrics, registry),
    )


def build_router(
    settings: ServeSettings,
    champion: ChampionWatcher,
    request_log: RequestLog,
    metrics: ServingMetrics,
    registry: RegistryClient,
) -> ModeRouter:
    """The configured mode: a second watcher on `challenger` beside the champion's, and in the
    bandit mode its learner reading MLOPS_SERVE_LABELS_DIR (or MLOPS_LABELS_DATA)."""
    if settings.mode == "champion":
        return ModeRouter("champion", metrics)
    challenger = ChampionWatcher(registry, settings.poll_seconds, metrics, alias=CHALLENGER_ALIAS)
    bandit = None
    if settings.mode == "bandit":
        bandit = BanditLearner(
            settings.bandit_state,
            settings.labels_directory,
            request_log,
            metrics,
            lambda: champion.current.schema if champion.current is not None else None,
            settings.labels_poll_seconds,
        )
    return ModeRouter(settings.mode, metrics, challenger, settings.canary_share, bandit)


def main(argv: list[str] | None = None) -> None:
    import argparse

    # No options: every setting comes from the environment (secrets included); --help says so.
    argparse.ArgumentParser(
        prog="python -m mlops_assets.serving",
        description="The scoring service: the `champion` version of MLOPS_MODEL_NAME in the "
        "MLflow store MLFLOW_TRACKING_URI (default: MLOPS_HOME/mlflow.db), on "
        "MLOPS_SERVE_HOST:MLOPS_SERVE_PORT.",
        epilog="Settings come from the environment only (MLOPS_SERVE_*, MLOPS_MODEL_NAME, "
        "MLFLOW_TRACKING_URI, MLOPS_HOME): see docs/serving.md.",
    ).parse_args(argv)
    import uvicorn

    # MLflow's download progress bars would fill the service's log at every champion load.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    metrics = ServingMetrics()
    try:
        settings = ServeSettings.from_env()
        check_bind(settings.host, settings.api_key)
        app = build_app(settings, metrics)  # a bandit state file it cannot read stops it here
    except ValueError as error:
        sys.exit(f"mlops_assets.serving: {error}")
    uvicorn.Server(server_config(app, settings, metrics)).run()


if __name__ == "__main__":
    main()
