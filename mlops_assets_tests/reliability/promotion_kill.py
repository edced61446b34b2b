"""Runs one real promotion (domain.promotion.register_and_promote against a real MLflow
store) and kills its own process with SIGKILL right after its Nth write to the registry: the
state a `kill -9` at that point leaves. Run as a script by test_promotion_kills.py:

    python promotion_kill.py <tracking uri> <mlops home> <run id> <model uri> <kill after N>
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from mlops_assets.domain.evaluation import PairedComparison
from mlops_assets.domain.promotion import (
    Candidate,
    ChampionComparison,
    GateConfig,
    register_and_promote,
)
from mlops_assets.resources.mlflow_registry import MlflowRegistry
from mlops_assets.resources.project import ProjectStorage

# The registry calls that write (every other call only reads).
WRITES = (
    "register_once",
    "set_version_tag",
    "set_version_description",
    "set_alias",
    "delete_alias",
    "set_run_tag",
    "set_model_tag",
)
GATE = GateConfig(min_metrics={"roc_auc": 0.6})


def better_than(version: str) -> ChampionComparison:
    """A comparison in which the candidate beats `version` beyond noise."""
    paired = PairedComparison("log_loss", 1000, 0.5, 0.4, 0.1, 0.05, 0.15, 0.95)
    return ChampionComparison(version, True, "compatible", {"roc_auc": 0.7}, paired, ())


def candidate(run_id: str, model_uri: str, champion: str | None) -> Candidate:
    return Candidate(
        run_id=run_id,
        model_uri=model_uri,
        metrics={"roc_auc": 0.8},
        leaky_features=(),
        champion=None if champion is None else better_than(champion),
        tags={"data_hash": f"hash-{run_id}"},
    )


class KilledAfter:
    """The real registry, with the process killed (SIGKILL) after its `limit`th write."""

    def __init__(self, registry: MlflowRegistry, limit: int) -> None:
        self._registry, self._limit, self._writes = registry, limit, 0

    @property
    def model_name(self) -> str:
        return self._registry.model_name

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._registry, name)
        if name not in WRITES:
            return method

        def write(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            self._writes += 1
            if self._writes >= self._limit:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        return write


def main(uri: str, home: str, run_id: str, model_uri: str, limit: int) -> None:
    os.environ["MLOPS_HOME"] = home
    registry = MlflowRegistry(tracking_uri=uri)
    storage = ProjectStorage(home=home)
    register_and_promote(
        KilledAfter(registry, limit),  # type: ignore[arg-type]
        storage.lock,
        candidate(run_id, model_uri, "1"),
        GATE,
        lambda: better_than("1"),
    )


if __name__ == "__main__":
    main(*sys.argv[1:5], int(sys.argv[5]))
