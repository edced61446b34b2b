"""Reading artefacts from the store: a model's files, a run's artefact through the local cache.
`RegistryClient` uses these; they live here to keep that module small.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_assets.home import default_home
from mlops_assets.resources.mlflow_errors import mlflow_unavailable

if TYPE_CHECKING:
    from mlops_assets.registry_client.client import RegistryClient

RUN_ID = re.compile(r"[0-9a-f]{32}")


class ModelArtifactError(RuntimeError):
    """A model version's artefact is missing or differs from what was registered."""


def download_model(registry: RegistryClient, uri: str, destination: str, what: str) -> str:
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=artifact_location(registry, uri),
            dst_path=destination,
            tracking_uri=registry.resolved_tracking_uri,
            registry_uri=registry.resolved_tracking_uri,
        )
    except (OSError, MlflowException) as error:
        if mlflow_unavailable(error):
            raise
        raise ModelArtifactError(
            f"{what}: the model artefact cannot be read from the artefact store "
            f"({type(error).__name__}: {error}). It was deleted or moved: restore it, or "
            "retrain; a version without its artefact is never registered or promoted."
        ) from error
    if not any(Path(local).rglob("MLmodel")):
        raise ModelArtifactError(
            f"{what}: the model artefact is missing (no MLmodel file under {uri}); restore "
            "it, or retrain."
        )
    return local


def artifact_location(registry: RegistryClient, uri: str) -> str:
    """Where a `models:/` URI's files are. MLflow resolves such URIs with the process-wide
    registry URI whatever it is passed, so they are resolved here with this store's client."""
    if not uri.startswith("models:/"):
        return uri
    client = registry.client()
    path = uri.removeprefix("models:/")
    if path.startswith("m-") and "/" not in path:
        return client.get_logged_model(path).artifact_location
    name, _, version = path.partition("/")
    return client.get_model_version_download_uri(name, version)


def run_artifact(registry: RegistryClient, run_id: str, artifact_path: str) -> Path:
    """A run's artefact as a local file, downloaded once into MLOPS_HOME/artifact_cache.

    Artefacts of a finished run never change, so the cache needs no invalidation.
    """
    import mlflow.artifacts

    from mlops_assets.domain.data.paths import path_under

    if not RUN_ID.fullmatch(run_id):
        raise ValueError(f"{run_id!r} is not an MLflow run id")
    cached = path_under(
        Path(default_home()).resolve(), "artifact_cache", run_id, *artifact_path.split("/")
    )
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        # Downloaded beside the final name, then renamed: a reader never sees half a file.
        with tempfile.TemporaryDirectory(dir=cached.parent) as tmp:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id,
                artifact_path=artifact_path,
                dst_path=tmp,
                tracking_uri=registry.resolved_tracking_uri,
            )
            os.replace(local, cached)
    return cached
