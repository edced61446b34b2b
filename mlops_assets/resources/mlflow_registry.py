"""The `MlflowRegistry` resource: its configuration from Dagster (run config, `EnvVar`s), every
operation by the Dagster-free `RegistryClient` (mlops_assets/registry_client/), which the
serving service uses directly. Each method builds a client from the resource's fields and
delegates: the embedded store's path follows MLOPS_HOME at call time, as it always did.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import field_validator

from mlops_assets.contracts import DEFAULT_EXPERIMENT
from mlops_assets.domain.registry import RegistryVersion, checked_model_name
from mlops_assets.domain.schemas import DatasetSchema
from mlops_assets.registry_client import ModelArtifactError as ModelArtifactError, RegistryClient
from mlops_assets.registry_client.client import ML_WORKFLOW_QUERY as ML_WORKFLOW_QUERY
from mlops_assets.resources.mlflow_errors import (
    HTTP_RETRY_DEFAULTS as HTTP_RETRY_DEFAULTS,
    MlflowStoreError as MlflowStoreError,
    mlflow_unavailable as mlflow_unavailable,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient


class MlflowRegistry(dg.ConfigurableResource):
    """MLflow tracking and registry for one registered model (see `RegistryClient`)."""

    tracking_uri: str = ""  # MLFLOW_TRACKING_URI
    model_name: str = "credit-default"  # MLOPS_MODEL_NAME
    experiment_name: str = DEFAULT_EXPERIMENT
    ui_url: str = "http://127.0.0.1:5000"  # MLOPS_MLFLOW_UI_URL, for links in metadata

    @field_validator("model_name")
    @classmethod
    def _checked_model_name(cls, name: str) -> str:
        # Checked where the name enters, when the resource is built from the environment or
        # from a run's config (the launchpad's too): a run with a name that could leave
        # MLOPS_HOME (`../..`) or break an MLflow filter fails before any step writes anything.
        return checked_model_name(name)

    def registry_client(self) -> RegistryClient:
        """The plain client for this configuration; its warnings go to the run's log."""
        return RegistryClient(
            tracking_uri=self.tracking_uri,
            model_name=self.model_name,
            experiment_name=self.experiment_name,
            ui_url=self.ui_url,
            log=dg.get_dagster_logger(),
        )

    @property
    def resolved_tracking_uri(self) -> str:
        return self.registry_client().resolved_tracking_uri

    def client(self) -> MlflowClient:
        return self.registry_client().client()

    def experiment_id(self) -> str:
        return self.registry_client().experiment_id()

    def ensure_registered_model(self) -> None:
        self.registry_client().ensure_registered_model()

    def version_by_alias(self, alias: str) -> RegistryVersion | None:
        return self.registry_client().version_by_alias(alias)

    def version(self, version: str) -> RegistryVersion:
        return self.registry_client().version(version)

    def versions(self) -> list[RegistryVersion]:
        return self.registry_client().versions()

    def load_model(self, version: str) -> Any:
        return self.registry_client().load_model(version)

    def model_artifact_sha256(self, model_uri: str) -> str:
        return self.registry_client().model_artifact_sha256(model_uri)

    def register_once(self, model_uri: str, run_id: str, tags: dict[str, str]) -> RegistryVersion:
        return self.registry_client().register_once(model_uri, run_id, tags)

    def training_schema(self, run_id: str) -> DatasetSchema:
        return self.registry_client().training_schema(run_id)

    def run_artifact(self, run_id: str, artifact_path: str) -> Path:
        return self.registry_client().run_artifact(run_id, artifact_path)

    def load_pyfunc(self, model_uri: str) -> Any:
        return self.registry_client().load_pyfunc(model_uri)

    def load_logged_model(self, model_uri: str) -> Any:
        return self.registry_client().load_logged_model(model_uri)

    def set_version_description(self, version: str, description: str) -> None:
        self.registry_client().set_version_description(version, description)

    def set_version_tag(self, version: str, key: str, value: str) -> None:
        self.registry_client().set_version_tag(version, key, value)

    def set_alias(self, alias: str, version: str) -> None:
        self.registry_client().set_alias(alias, version)

    def model_tag(self, key: str) -> str | None:
        return self.registry_client().model_tag(key)

    def set_model_tag(self, key: str, value: str) -> None:
        self.registry_client().set_model_tag(key, value)

    def delete_alias(self, alias: str) -> None:
        self.registry_client().delete_alias(alias)

    def set_run_tag(self, run_id: str, key: str, value: str) -> None:
        self.registry_client().set_run_tag(run_id, key, value)

    @contextmanager
    def training_run(
        self, experiment_id: str, run_name: str, tags: dict[str, str]
    ) -> Iterator[str]:
        with self.registry_client().training_run(experiment_id, run_name, tags) as run_id:
            yield run_id

    def log_sklearn_model(
        self,
        run_id: str,
        pipeline: Any,
        *,
        signature: Any,
        input_example: Any,
        pip_requirements: list[str],
        skops_trusted_types: list[str],
    ) -> str:
        return self.registry_client().log_sklearn_model(
            run_id,
            pipeline,
            signature=signature,
            input_example=input_example,
            pip_requirements=pip_requirements,
            skops_trusted_types=skops_trusted_types,
        )

    def log_monitoring_run(
        self,
        run_name: str,
        tags: dict[str, str],
        metrics: dict[str, float],
        report_html: Path | None,
    ) -> tuple[str, str]:
        return self.registry_client().log_monitoring_run(run_name, tags, metrics, report_html)

    def artifact_url(self, experiment_id: str, run_id: str, artifact_path: str) -> str:
        return self.registry_client().artifact_url(experiment_id, run_id, artifact_path)

    def experiment_url(self, experiment_id: str) -> str:
        return self.registry_client().experiment_url(experiment_id)

    def run_url(self, experiment_id: str, run_id: str) -> str:
        return self.registry_client().run_url(experiment_id, run_id)

    def version_url(self, version: str) -> str:
        return self.registry_client().version_url(version)
