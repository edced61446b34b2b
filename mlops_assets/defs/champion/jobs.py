"""Moving the `champion` alias by hand: back to the previous champion, or to a given version."""

import dagster as dg

from mlops_assets.contracts import CHAMPION_GATE_RUN_TAG
from mlops_assets.defs.champion.registry import promote_version, rollback_champion


@dg.job(
    description="Move the `champion` alias back to the previous champion (config: reason).",
    tags={"mlops/purpose": "rollback", **CHAMPION_GATE_RUN_TAG},
)
def rollback_champion_job() -> None:
    rollback_champion()


@dg.job(
    description=(
        "Move the `champion` alias to a given version (config: version, reason, requested_by), "
        "e.g. an honest model the gate could not compare with a leaky champion's schema."
    ),
    tags={"mlops/purpose": "promotion", **CHAMPION_GATE_RUN_TAG},
)
def promote_version_job() -> None:
    promote_version()
