"""The audit trail read back from a real MLflow registry: every move of a model gets its own
sequence number, increasing in the order the moves were written, and the trail reads back in
that order (the two halves of a promotion included), however MLflow lists the versions."""

import json
from dataclasses import dataclass

from mlops_assets.contracts import AUDIT_TAG_PREFIX
from mlops_assets.domain.promotion import Action, AliasMove, audit_trail
from mlops_assets.domain.promotion.guard import guard_former_champion
from mlops_assets.domain.promotion.moves import make_champion, now_utc
from mlops_assets.resources.mlflow_registry import MlflowRegistry


@dataclass
class WriteLog:
    """The real registry, noting each audit entry in the order it is written."""

    registry: MlflowRegistry
    written: list[tuple[str, str]]

    def __getattr__(self, name: str):
        return getattr(self.registry, name)

    def set_version_tag(self, version: str, key: str, value: str) -> None:
        if key.startswith(AUDIT_TAG_PREFIX):
            self.written.append((version, json.loads(value)["action"]))
        self.registry.set_version_tag(version, key, value)


def test_twenty_moves_read_back_from_mlflow_in_the_order_written(project, tmp_path):
    registry = MlflowRegistry(model_name="audit-order")
    registry.ensure_registered_model()
    for _ in range(3):
        registry.client().create_model_version("audit-order", source=str(tmp_path))
    log = WriteLog(registry, [])

    def move(version: str, action: Action) -> AliasMove:
        return AliasMove(version, action, now_utc(), "test", "why", "by hand")

    make_champion(log, move("1", Action.PROMOTED), None)  # type: ignore[arg-type]
    champion, versions = "1", ["2", "3", "1"]
    # Promotions that keep the former champion on (two to four entries within one moment:
    # the new champion's, the replaced one's, the challenger replaced, the guard set), until at
    # least 20 moves are written.
    while len(log.written) < 20:
        new = (
            versions[len(log.written) % 3]
            if versions[len(log.written) % 3] != champion
            else (versions[(len(log.written) + 1) % 3])
        )
        promoted = move(new, Action.PROMOTED)
        make_champion(log, promoted, champion)  # type: ignore[arg-type]
        guard_former_champion(log, promoted, champion)  # type: ignore[arg-type]
        champion = new

    trail = audit_trail(registry.versions())
    assert len(trail) == len(log.written) >= 20
    assert [(m.version, m.action.value) for m in trail] == log.written
    assert [m.seq for m in trail] == list(range(1, len(trail) + 1))
