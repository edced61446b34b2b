"""A plain MLflow client, free of Dagster: what the code location (through the `MlflowRegistry`
resource) and the serving service both use."""

from mlops_assets.registry_client.artifacts import ModelArtifactError
from mlops_assets.registry_client.client import RegistryClient
from mlops_assets.resources.mlflow_errors import MlflowStoreError

__all__ = ["MlflowStoreError", "ModelArtifactError", "RegistryClient"]
