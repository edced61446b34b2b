"""Every MLflow operation of the project, without Dagster: tracking, the model registry and its
aliases, artefacts. The serving service uses `RegistryClient` directly; the code location through
the `MlflowRegistry` resource, which builds one from its configuration.

mlflow is imported inside methods: it costs seconds, and the code location must load fast.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from mlops_assets.contracts import (
    DEFAULT_EXPERIMENT,
    EXPERIMENT_KIND_TAG,
    ML_EXPERIMENT_KIND,
    MODEL_HASH_TAG,
    SCHEMA_ARTIFACT,
)
from mlops_assets.domain.data import directory_sha256
from mlops_assets.domain.registry import RegistryVersion, checked_model_name
from mlops_assets.domain.schemas import DatasetSchema
from mlops_assets.home import default_home
from mlops_assets.registry_client import artifacts, runs
from mlops_assets.registry_client.artifacts import RUN_ID, ModelArtifactError
from mlops_assets.resources.mlflow_errors import (
    MlflowStoreError,
    bound_http_retries,
    mlflow_not_found,
    mlflow_unavailable,
    store_error_message,
)
from mlops_assets.resources.mlflow_store import prepare_store

if TYPE_CHECKING:
    from mlflow import MlflowClient

# Written by MLflow itself into a registered model's files (its name and version): not content.
_UNHASHED = ("registered_model_meta",)
# Tracking URIs served by a tracking server, which owns the artefact location.
_SERVER_SCHEMES = ("http", "https", "databricks")
# The MLflow UI's query parameter for its "Model training" pages (its JS bundle: workflowType).
ML_WORKFLOW_QUERY = "workflowType=machine_learning"


def _as_version(model_version: Any) -> RegistryVersion:
    """MLflow's ModelVersion as plain data."""
    return RegistryVersion(
        version=str(model_version.version),
        run_id=model_version.run_id,
        aliases=tuple(model_version.aliases or ()),
        tags=dict(model_version.tags or {}),
        created_at_ms=int(model_version.creation_timestamp or 0),
        description=str(getattr(model_version, "description", "") or ""),
    )


@dataclass(frozen=True)
class RegistryClient:
    """MLflow tracking and registry for one registered model.

    With `tracking_uri` empty the store is embedded: SQLite at MLOPS_HOME/mlflow.db with
    artefacts in MLOPS_HOME/mlartifacts, so nothing needs a server. Any other store without a
    server (`sqlite:///...`, `file:...`) also keeps its artefacts in MLOPS_HOME/mlartifacts.
    """

    tracking_uri: str = ""  # MLFLOW_TRACKING_URI
    model_name: str = "credit-default"  # MLOPS_MODEL_NAME
    experiment_name: str = DEFAULT_EXPERIMENT
    ui_url: str = "http://127.0.0.1:5000"  # MLOPS_MLFLOW_UI_URL, for links in metadata
    log: logging.Logger = field(
        default=logging.getLogger("mlops_assets.registry"), compare=False, repr=False
    )
    """Where warnings go (the resource passes Dagster's logger, so they reach the run's log)."""

    def __post_init__(self) -> None:
        # A name that could leave MLOPS_HOME (`../..`) or break an MLflow filter is refused
        # before anything is read or written.
        checked_model_name(self.model_name)

    @property
    def resolved_tracking_uri(self) -> str:
        if self.tracking_uri:
            return self.tracking_uri
        return f"sqlite:///{Path(default_home()).resolve() / 'mlflow.db'}"

    def _local_artifact_root(self) -> str | None:
        """Where a new experiment's artefacts go: MLOPS_HOME/mlartifacts unless a tracking
        server decides. Without a server (an SQLite or file store, a database URL), MLflow's
        default is `./mlruns` of whatever directory the command ran in."""
        if urlparse(self.resolved_tracking_uri).scheme in _SERVER_SCHEMES:
            return None
        root = Path(default_home()).resolve() / "mlartifacts"
        root.mkdir(parents=True, exist_ok=True)
        return root.as_uri()

    def client(self) -> MlflowClient:
        """A client of this store. The URI is passed to every MLflow call explicitly, never
        set process-wide (`mlflow.set_tracking_uri` would export MLFLOW_TRACKING_URI to every
        later client in the process, and to the processes it starts).

        A SQL store is opened (and its schema checked) here: a store MLflow cannot use raises
        MlflowStoreError naming it and what to do, whichever step asked first."""
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        Path(default_home()).mkdir(parents=True, exist_ok=True)
        uri = self.resolved_tracking_uri
        if urlparse(uri).scheme in ("http", "https"):
            bound_http_retries(os.environ)
        try:
            prepare_store(uri)
            return MlflowClient(tracking_uri=uri, registry_uri=uri)
        except MlflowException as error:
            if mlflow_unavailable(error):
                raise
            raise MlflowStoreError(store_error_message(uri, "store", error)) from error

    def experiment_id(self) -> str:
        """The experiment's id, created on first use as a machine-learning experiment.

        MLflow 3's UI opens an experiment without EXPERIMENT_KIND_TAG on its GenAI pages
        (traces, token usage); tagged, it opens on runs and models. An experiment made before
        the tag existed gets it here too.
        """
        from mlflow.exceptions import MlflowException

        client = self.client()
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is None:
            try:
                return client.create_experiment(
                    self.experiment_name,
                    artifact_location=self._local_artifact_root(),
                    tags={EXPERIMENT_KIND_TAG: ML_EXPERIMENT_KIND},
                )
            except MlflowException as created:
                # Another run created it meanwhile (two first trainings): use that one.
                if created.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                experiment = client.get_experiment_by_name(self.experiment_name)
                assert experiment is not None
        if experiment.tags.get(EXPERIMENT_KIND_TAG) != ML_EXPERIMENT_KIND:
            client.set_experiment_tag(
                experiment.experiment_id, EXPERIMENT_KIND_TAG, ML_EXPERIMENT_KIND
            )
        return experiment.experiment_id

    def ensure_registered_model(self) -> None:
        from mlflow.exceptions import MlflowException

        client = self.client()
        try:
            client.get_registered_model(self.model_name)
        except MlflowException as error:
            # Only "no such model" is created; any other error (an outage, a store MLflow
            # cannot read) is raised as it came.
            if not mlflow_not_found(error):
                raise
            try:
                client.create_registered_model(
                    self.model_name, description="Managed by mlops-assets (Dagster)."
                )
            except MlflowException as created:
                # Another run created it meanwhile: that is what we wanted.
                if created.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise

    def version_by_alias(self, alias: str) -> RegistryVersion | None:
        """The version holding `alias`; None only when MLflow says the model or the alias does
        not exist. Any other error (a store MLflow cannot read, a schema one migration behind,
        a server that answers 500) raises: read as "no champion", it would let a day be stored
        unchecked, a candidate promote blindly and the serving watcher think nothing is there.
        An unreachable server raises as it was (the step's retry policy handles it); any other
        error as `MlflowStoreError`, naming the store and what to do."""
        from mlflow.exceptions import MlflowException

        try:
            found = self.client().get_model_version_by_alias(self.model_name, alias)
        except MlflowException as error:
            if mlflow_not_found(error):
                return None
            if mlflow_unavailable(error):
                raise
            raise MlflowStoreError(
                store_error_message(self.resolved_tracking_uri, f"`{alias}` alias", error)
            ) from error
        return _as_version(found)

    def version(self, version: str) -> RegistryVersion:
        return _as_version(self.client().get_model_version(self.model_name, version))

    def versions(self) -> list[RegistryVersion]:
        """Every version of the model, oldest first; none before the first registration."""
        client = self.client()
        found = client.search_model_versions(f"name = '{checked_model_name(self.model_name)}'")
        if not found:
            return []
        # Search results do not carry aliases in every store: take them from the model.
        aliases: dict[str, list[str]] = {}
        for alias, version in client.get_registered_model(self.model_name).aliases.items():
            aliases.setdefault(str(version), []).append(alias)
        listed = [
            replace(_as_version(v), aliases=tuple(sorted(aliases.get(str(v.version), []))))
            for v in found
        ]
        return sorted(listed, key=lambda v: int(v.version))

    def load_model(self, version: str) -> Any:
        """The version's pipeline, loaded only after its artefact's SHA-256 matches the one
        recorded at registration (`model.sha256`): what is scored is what the gate approved.

        The files are downloaded once, hashed and loaded from that same copy, so nothing can
        change between the check and the load. Raises ModelArtifactError when the artefact is
        missing or was changed. Versions registered before hashes were recorded carry no tag:
        they load with a warning.
        """
        import mlflow.sklearn

        expected = self.version(version).tags.get(MODEL_HASH_TAG)
        uri = f"models:/{self.model_name}/{version}"
        with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
            local = Path(artifacts.download_model(self, uri, tmp, f"{self.model_name} v{version}"))
            actual = directory_sha256(local, _UNHASHED)
            if expected is None:
                self.log.warning(
                    f"{self.model_name} v{version} has no {MODEL_HASH_TAG} tag (registered "
                    "before integrity hashes): loaded unverified. Re-register it to protect it."
                )
            elif actual != expected:
                raise ModelArtifactError(
                    f"{self.model_name} v{version}: the model artefact does not match what was "
                    f"registered (SHA-256 {actual[:16]}... instead of {expected[:16]}..., tag "
                    f"{MODEL_HASH_TAG}): its files in the artefact store changed after "
                    "registration. Nothing was scored with it. Restore the artefact from a "
                    "backup, or move `champion` away from this version (rollback_champion_job) "
                    "and find out who could write to the artefact store."
                )
            return mlflow.sklearn.load_model(str(local))

    def model_artifact_sha256(self, model_uri: str) -> str:
        """The SHA-256 of a logged model's files, as `load_model` will compute it."""
        with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
            return directory_sha256(
                Path(artifacts.download_model(self, model_uri, tmp, model_uri)), _UNHASHED
            )

    def register_once(self, model_uri: str, run_id: str, tags: dict[str, str]) -> RegistryVersion:
        """Register the run's model with its tags in one call, at most once per run.

        A retried step (or a request that timed out on the client but still reached the
        server) finds the version already registered for this run and reuses it; should two
        land anyway, the older is kept and the newer, unaliased duplicate deleted.
        """
        client = self.client()
        existing = self._versions_of_run(run_id)
        if not existing:
            # Linked to the logged model (`models:/<model id>`) as mlflow.register_model links
            # it, but with its resolved location as the source: MLflow's store resolves a
            # `models:/` source with the process-wide tracking URI, not this client's.
            logged = model_uri.startswith("models:/m-")
            client.create_model_version(
                self.model_name,
                artifacts.artifact_location(self, model_uri),
                run_id=run_id,
                tags=tags,
                model_id=model_uri.removeprefix("models:/") if logged else None,
            )
            existing = self._versions_of_run(run_id)
        keep, *duplicates = existing
        for duplicate in duplicates:
            if not duplicate.aliases:
                client.delete_model_version(self.model_name, duplicate.version)
        for key, value in tags.items():
            if keep.tags.get(key) != value:
                client.set_model_version_tag(self.model_name, keep.version, key, value)
        return self.version(keep.version)

    def _versions_of_run(self, run_id: str) -> list[RegistryVersion]:
        if not RUN_ID.fullmatch(run_id):
            raise ValueError(f"{run_id!r} is not an MLflow run id")
        found = self.client().search_model_versions(
            f"name = '{checked_model_name(self.model_name)}' and run_id = '{run_id}'"
        )
        return sorted((_as_version(v) for v in found), key=lambda v: int(v.version))

    def training_schema(self, run_id: str) -> DatasetSchema:
        """The dataset schema a training run logged (SCHEMA_ARTIFACT), read through the cache."""
        text = self.run_artifact(run_id, SCHEMA_ARTIFACT).read_text(encoding="utf-8")
        return DatasetSchema.from_json(text)

    def run_artifact(self, run_id: str, artifact_path: str) -> Path:
        """A run's artefact as a local file, downloaded once (artifacts.run_artifact)."""
        return artifacts.run_artifact(self, run_id, artifact_path)

    def load_pyfunc(self, model_uri: str) -> Any:
        """A logged or registered model as `mlflow.pyfunc` loads it for any client: with its
        signature enforced (the gate's servability checks)."""
        import mlflow.pyfunc

        with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
            return mlflow.pyfunc.load_model(
                artifacts.download_model(self, model_uri, tmp, model_uri)
            )

    def load_logged_model(self, model_uri: str) -> Any:
        """A logged model's pipeline (`models:/<model id>`), registered or not."""
        import mlflow.sklearn

        with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
            return mlflow.sklearn.load_model(
                artifacts.download_model(self, model_uri, tmp, model_uri)
            )

    def set_version_description(self, version: str, description: str) -> None:
        """The text the MLflow UI shows at the top of a version's page."""
        self.client().update_model_version(self.model_name, version, description=description)

    def set_version_tag(self, version: str, key: str, value: str) -> None:
        self.client().set_model_version_tag(self.model_name, version, key, value)

    def set_alias(self, alias: str, version: str) -> None:
        self.client().set_registered_model_alias(self.model_name, alias, version)

    def model_tag(self, key: str) -> str | None:
        """The registered model's tag (None: unset)."""
        value: str | None = self.client().get_registered_model(self.model_name).tags.get(key)
        return value

    def set_model_tag(self, key: str, value: str) -> None:
        self.client().set_registered_model_tag(self.model_name, key, value)

    def delete_alias(self, alias: str) -> None:
        self.client().delete_registered_model_alias(self.model_name, alias)

    def set_run_tag(self, run_id: str, key: str, value: str) -> None:
        self.client().set_tag(run_id, key, value)

    def training_run(
        self, experiment_id: str, run_name: str, tags: dict[str, str]
    ) -> contextlib.AbstractContextManager[str]:
        """A new run of the experiment, its id yielded (runs.training_run)."""
        return runs.training_run(self, experiment_id, run_name, tags)

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
        """Log `pipeline` as the run's LoggedModel (runs.log_sklearn_model); its URI."""
        return runs.log_sklearn_model(
            self,
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
        """The day's monitoring run (runs.log_monitoring_run): (experiment id, run id)."""
        return runs.log_monitoring_run(self, run_name, tags, metrics, report_html)

    def artifact_url(self, experiment_id: str, run_id: str, artifact_path: str) -> str:
        """The MLflow UI's page of one artefact of a run (it renders HTML inline)."""
        return self._ui_link(f"experiments/{experiment_id}/runs/{run_id}/artifacts/{artifact_path}")

    def experiment_url(self, experiment_id: str) -> str:
        return self._ui_link(f"experiments/{experiment_id}")

    def run_url(self, experiment_id: str, run_id: str) -> str:
        return self._ui_link(f"experiments/{experiment_id}/runs/{run_id}")

    def version_url(self, version: str) -> str:
        return self._ui_link(f"models/{self.model_name}/versions/{version}")

    def _ui_link(self, route: str) -> str:
        """A page of the MLflow UI, in its "Model training" mode: MLflow 3's UI opens in GenAI
        mode (traces, token usage, an assistant) unless the link or the browser's last choice
        says otherwise (the `workflowType` query parameter of its router)."""
        return f"{self.ui_url.rstrip('/')}/#/{route}?{ML_WORKFLOW_QUERY}"
