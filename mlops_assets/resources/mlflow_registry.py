"""A small resource around `MlflowClient`: tracking, the model registry and its aliases.

mlflow is imported inside methods: it costs seconds, and the code location must load fast.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from mlops_assets.resources.project import default_home

if TYPE_CHECKING:
    from mlflow import MlflowClient

CHAMPION = "champion"
CHALLENGER = "challenger"
# Artefacts every model version's run carries, read back by scoring and drift monitoring.
SCHEMA_ARTIFACT = "schema.json"
REFERENCE_PROFILE_ARTIFACT = "reference/profile.json"
REFERENCE_SAMPLE_ARTIFACT = "reference/sample.parquet"
REFERENCE_SAMPLE_ROWS = 5000
SCORE_COLUMN = "__score__"
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True)
class RegistryVersion:
    """A registered model version as plain data; MLflow's own object types `version` as an int
    or a str depending on the store, here it is always the str MLflow's URIs use."""

    version: str
    run_id: str
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    creation_timestamp: int = 0

    @classmethod
    def of(cls, model_version: Any) -> RegistryVersion:
        return cls(
            version=str(model_version.version),
            run_id=model_version.run_id,
            aliases=tuple(model_version.aliases or ()),
            tags=dict(model_version.tags or {}),
            creation_timestamp=int(model_version.creation_timestamp or 0),
        )


class MlflowRegistry(dg.ConfigurableResource):
    """MLflow tracking and registry for one registered model.

    With `tracking_uri` empty the store is embedded: SQLite at MLOPS_HOME/mlflow.db with
    artefacts in MLOPS_HOME/mlartifacts, so nothing needs a server.
    """

    tracking_uri: str = ""  # MLFLOW_TRACKING_URI
    model_name: str = "credit-default"  # MLOPS_MODEL_NAME
    experiment_name: str = "mlops-assets"
    ui_url: str = "http://127.0.0.1:5000"  # MLOPS_MLFLOW_UI_URL, for links in metadata

    @property
    def resolved_tracking_uri(self) -> str:
        if self.tracking_uri:
            return self.tracking_uri
        return f"sqlite:///{Path(default_home()).resolve() / 'mlflow.db'}"

    def _local_artifact_root(self) -> str | None:
        if self.tracking_uri:
            return None  # a tracking server decides where artefacts go
        root = Path(default_home()).resolve() / "mlartifacts"
        root.mkdir(parents=True, exist_ok=True)
        return root.as_uri()

    def client(self) -> MlflowClient:
        import mlflow
        from mlflow import MlflowClient

        Path(default_home()).mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(self.resolved_tracking_uri)
        mlflow.set_registry_uri(self.resolved_tracking_uri)
        return MlflowClient(self.resolved_tracking_uri, self.resolved_tracking_uri)

    def experiment_id(self) -> str:
        client = self.client()
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is not None:
            return experiment.experiment_id
        return client.create_experiment(
            self.experiment_name, artifact_location=self._local_artifact_root()
        )

    def ensure_registered_model(self) -> None:
        from mlflow.exceptions import MlflowException

        client = self.client()
        try:
            client.get_registered_model(self.model_name)
        except MlflowException:
            client.create_registered_model(
                self.model_name, description="Managed by mlops-assets (Dagster)."
            )

    def version_by_alias(self, alias: str) -> RegistryVersion | None:
        from mlflow.exceptions import MlflowException

        try:
            found = self.client().get_model_version_by_alias(self.model_name, alias)
        except MlflowException:
            return None
        return RegistryVersion.of(found)

    def version(self, version: str) -> RegistryVersion:
        return RegistryVersion.of(self.client().get_model_version(self.model_name, version))

    def versions(self) -> list[RegistryVersion]:
        client = self.client()
        found = client.search_model_versions(f"name = '{checked_model_name(self.model_name)}'")
        # Search results do not carry aliases in every store: take them from the model.
        aliases: dict[str, list[str]] = {}
        for alias, version in client.get_registered_model(self.model_name).aliases.items():
            aliases.setdefault(str(version), []).append(alias)
        listed = [
            replace(RegistryVersion.of(v), aliases=tuple(sorted(aliases.get(str(v.version), []))))
            for v in found
        ]
        return sorted(listed, key=lambda v: int(v.version))

    def load_model(self, version: str) -> Any:
        import mlflow.sklearn

        self.client()
        return mlflow.sklearn.load_model(f"models:/{self.model_name}/{version}")

    def run_artifact(self, run_id: str, artifact_path: str) -> Path:
        """A run's artefact as a local file, downloaded once into MLOPS_HOME/artifact_cache.

        Artefacts of a finished run never change, so the cache needs no invalidation.
        """
        import mlflow.artifacts

        run_cache = Path(default_home()).resolve() / "artifact_cache" / run_id
        cached = run_cache / artifact_path
        if not cached.exists():
            self.client()
            cached.parent.mkdir(parents=True, exist_ok=True)
            # Downloaded beside the final name, then renamed: a reader never sees half a file.
            with tempfile.TemporaryDirectory(dir=cached.parent) as tmp:
                local = mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=artifact_path, dst_path=tmp
                )
                os.replace(local, cached)
        return cached

    def run_url(self, experiment_id: str, run_id: str) -> str:
        return f"{self.ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"

    def version_url(self, version: str) -> str:
        return f"{self.ui_url.rstrip('/')}/#/models/{self.model_name}/versions/{version}"


def checked_model_name(name: str) -> str:
    """Model names go into MLflow filter strings: allow only characters that need no quoting."""
    if not _MODEL_NAME.fullmatch(name):
        raise ValueError(f"MLOPS_MODEL_NAME={name!r}: use letters, digits, '-', '_' and '.' only.")
    return name
