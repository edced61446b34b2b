"""The served model, and the thread that follows an alias: `champion`, and in the shadow,
canary and bandit modes a second watcher on `challenger`.

A new champion is loaded beside the one serving (its artefact's SHA-256 checked against the
registry's record by `RegistryClient.load_model`), then swapped in by one reference assignment:
a request reads `watcher.current` once and scores with that model to its end, so no request
waits on a load or sees half of a swap, and every answer names the version that scored it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlops_assets.contracts import CHAMPION_ALIAS, DATA_HASH_TAG, MODEL_HASH_TAG
from mlops_assets.domain.registry import RegistryVersion
from mlops_assets.domain.schemas import DatasetSchema
from mlops_assets.registry_client import MlflowStoreError, ModelArtifactError, RegistryClient
from mlops_assets.serving.metrics import ServingMetrics

log = logging.getLogger("mlops_assets.serving")


@dataclass(frozen=True)
class ServedModel:
    name: str
    version: str
    alias: str
    run_id: str
    pipeline: Any
    schema: DatasetSchema
    training_data_hash: str
    schema_version: str
    artifact_sha256: str
    loaded_at: datetime
    load_seconds: float
    """From seeing the alias move to the swap: download, hash check, load."""

    @property
    def classifier(self) -> bool:
        return self.schema.task != "regression"

    def describe(self) -> dict[str, Any]:
        """What `/version` answers."""
        return {
            "model_name": self.name,
            "model_version": self.version,
            "alias": self.alias,
            "run_id": self.run_id,
            "task": self.schema.task,
            "training_data_hash": self.training_data_hash,
            "schema_version": self.schema_version,
            "schema_fingerprint": self.schema.fingerprint(),
            "artifact_sha256": self.artifact_sha256,
            "loaded_at": self.loaded_at.isoformat(),
            "load_seconds": round(self.load_seconds, 3),
            "features": self.schema.feature_columns,
        }


class ChampionWatcher:
    """Polls the registry every `poll_seconds` and swaps in the version `alias` points at.

    A version that cannot be loaded (tampered or missing artefact, registry unreachable) is
    counted and logged, and the version serving now keeps serving; the next poll tries again.
    A removed `champion` alias leaves the last champion serving; a removed `challenger` alias
    unloads the challenger (the service falls back to the champion alone): a retired challenger
    must stop answering.
    """

    def __init__(
        self,
        registry: RegistryClient,
        poll_seconds: float,
        metrics: ServingMetrics,
        alias: str = CHAMPION_ALIAS,
    ) -> None:
        self.alias = alias
        self.registry = registry
        self.poll_seconds = poll_seconds
        self.metrics = metrics
        self.current: ServedModel | None = None
        self.last_error = ""
        self.record: RegistryVersion | None = None
        """The loaded version's registry record (its tags: the audit trail, the canary's share)
        as read at the last poll, so a tag the sensor changes applies without a restart."""
        self.store_error = ""
        """Set while the registry answers the alias read with an error that is not an outage
        (a store MLflow cannot read): /health reports it, the loaded version keeps serving."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"{self.alias}-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check_once()
            self._stop.wait(self.poll_seconds)

    def check_once(self) -> bool:
        """Look at the alias once; load and swap when it moved. True when a swap happened."""
        try:
            found = self.registry.version_by_alias(self.alias)
        except MlflowStoreError as error:  # not "no champion": keep serving, report unhealthy
            self.store_error = str(error)
            self._failed("registry_error", self.store_error)
            return False
        except Exception as error:  # the registry is down: keep serving what is loaded
            self._failed("registry_unreachable", f"cannot read the `{self.alias}` alias: {error}")
            return False
        self.store_error = ""
        if found is None:
            self.record = None
            if self.alias != CHAMPION_ALIAS and self.current is not None:
                log.info("`%s` alias removed: v%s unloaded", self.alias, self.current.version)
                self.current = None
                self.metrics.unserved(self.alias)
                self.last_error = f"{self.registry.model_name} has no `{self.alias}` version"
                return True
            if self.current is None:
                self.last_error = f"{self.registry.model_name} has no `{self.alias}` version yet"
            # An alias removed by hand leaves the last champion serving: an empty service
            # would fail every caller, and no rollback ever deletes the alias.
            return False
        if self.current is not None and found.version == self.current.version:
            self.record = found
            return False
        started = time.perf_counter()
        try:
            pipeline = self.registry.load_model(found.version)
            schema = self.registry.training_schema(found.run_id)
            run_tags = self.registry.client().get_run(found.run_id).data.tags
        except ModelArtifactError as error:
            self._failed("artifact", str(error))
            return False
        except Exception as error:
            self._failed("load_error", f"{type(error).__name__}: {error}")
            return False
        model = ServedModel(
            name=self.registry.model_name,
            version=found.version,
            alias=self.alias,
            run_id=found.run_id,
            pipeline=pipeline,
            schema=schema,
            training_data_hash=found.tags.get(DATA_HASH_TAG, run_tags.get(DATA_HASH_TAG, "")),
            schema_version=run_tags.get("schema_version", ""),
            artifact_sha256=found.tags.get(MODEL_HASH_TAG, ""),
            loaded_at=datetime.now(UTC),
            load_seconds=time.perf_counter() - started,
        )
        previous = self.current
        # The record of the version now serving: a version that failed to load leaves its
        # predecessor's in place, with the model it belongs to.
        self.record = found
        self.current = model
        self.last_error = ""
        self.metrics.served(model.name, model.version, model.alias)
        log.info(
            "serving %s v%s as %s%s",
            model.name,
            model.version,
            model.alias,
            f" (was v{previous.version})" if previous else "",
        )
        return True

    def _failed(self, reason: str, message: str) -> None:
        self.metrics.load_failures.labels(reason).inc()
        self.last_error = message
        serving = f"; still serving v{self.current.version}" if self.current else ""
        log.error("%s%s", message, serving)
