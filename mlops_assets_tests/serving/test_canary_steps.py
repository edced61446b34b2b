"""The canary's share steps with the evidence: challenger_sensor, on days still collecting,
raises the share one step a day through the promotion service (the tag `canary_share` on the
challenger's version, an audit entry that starts no new tenure), and the running service
(uvicorn, its watchers) applies each step at its next poll, without a restart."""

from __future__ import annotations

import json
import time

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.asset_keys import CHALLENGER_COMPARISON
from mlops_assets.contracts import CANARY_SHARE_TAG, SERVED_ROLE_COLUMN
from mlops_assets.defs.monitoring.comparison import (
    CHALLENGER_VERSION_KEY,
    CHAMPION_VERSION_KEY,
    ROLES_SINCE_KEY,
)
from mlops_assets.domain import synthetic
from mlops_assets.domain.challenger import ChallengerEvidence, SequentialTestSettings
from mlops_assets.domain.promotion import Action, audit_trail
from mlops_assets.domain.promotion.audit import roles_since
from mlops_assets.resources.data_source import TrainingDataSource
from mlops_assets_tests.assets.test_challenger_shadow import set_role_by_hand
from mlops_assets_tests.serving.conftest import logged_rows, running_service, wait_ready
from mlops_assets_tests.serving.test_modes import _body, _served_at
from mlops_assets_tests.test_challenger_sensor import _tick as sensor_tick

pytestmark = pytest.mark.slow

ROWS_A_DAY = 20_000
DAYS = ("2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05")


def _equal_day() -> np.ndarray:
    """A day of a challenger as good as the champion: they disagree on 10% of rows, half of
    them won by each (a collecting verdict whose interval narrows around 0)."""
    differences = np.zeros(ROWS_A_DAY)
    tenth = ROWS_A_DAY // 20
    differences[:tenth], differences[tenth : 2 * tenth] = 1.0, -1.0
    return differences


def _tick(project) -> str:
    """A tick of challenger_sensor as the code location builds it for a service in canary mode
    (MLOPS_SERVE_MODE=canary): the only mode whose share it steps."""
    return sensor_tick(project, mode="canary")


def _served_share(service, rows: pd.DataFrame, logged_before: int) -> float:
    """The share of `rows` the challenger answered (the request log says who answered)."""
    assert service.post("/invocations", json=_body(rows)).status_code == 200
    logged = logged_rows(service, _served_at().date().isoformat(), logged_before + len(rows))
    latest = logged.tail(len(rows))
    return float((latest[SERVED_ROLE_COLUMN] == "challenger").mean())


def _health_share(service) -> tuple[float, str]:
    health = service.get("/health").json()
    return health["canary_share"], health["canary_share_source"]


def test_the_sensor_steps_the_canary_share_and_the_service_applies_it_without_restart(
    project, tmp_path
):
    assert project.train(data_source=TrainingDataSource(synthetic_rows=1500)).success
    assert project.train(
        data_source=TrainingDataSource(synthetic_rows=2500, synthetic_seed=7)
    ).success
    if project.registry().version_by_alias("champion").version != "1":
        set_role_by_hand(project, "1", "champion")
    set_role_by_hand(project, "2", "challenger")
    registry = project.registry()
    since = roles_since(registry.version("1"), registry.version("2"))
    rows = synthetic.generate_daily_batch(
        _served_at().date(), n_rows=2000, seed=3, with_labels=False
    )
    rows["application_id"] = np.arange(5_000_000, 5_002_000)

    # A horizon beyond the five days: the equal challenger stays undecided throughout.
    evidence = ChallengerEvidence(settings=SequentialTestSettings(max_rows=1_000_000))
    shares, served, ticks = [], [], []
    with running_service(
        registry, tmp_path / "requests", clock=_served_at, mode="canary", poll_seconds=0.2
    ) as service:
        wait_ready(service)
        deadline = time.monotonic() + 60
        while service.get("/health").json().get("challenger_version") != "2":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        health = service.get("/health").json()
        assert (health["canary_share"], health["canary_share_source"]) == (
            0.05,
            "MLOPS_CANARY_SHARE",
        )
        for day in DAYS:
            evidence = evidence.add_day(day, _equal_day())
            verdict = evidence.verdict()
            assert verdict.decision == "keep_collecting"
            project.instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    asset_key=CHALLENGER_COMPARISON,
                    partition=day,
                    metadata={
                        **verdict.to_metadata(),
                        CHAMPION_VERSION_KEY: "1",
                        CHALLENGER_VERSION_KEY: "2",
                        ROLES_SINCE_KEY: since,
                    },
                )
            )
            ticks.append(_tick(project))
            # A second tick on the same day's verdict steps nothing.
            assert _tick(project).endswith("the canary share holds")
            stored = registry.version("2").tags[CANARY_SHARE_TAG]
            share = float(json.loads(stored)["share"])
            shares.append(share)
            # The first step (5%) equals the configured share: wait for the source as well,
            # or a poll that has not happened yet passes for one that has.
            applied = (share, "challenger_sensor")
            deadline = time.monotonic() + 30
            while _health_share(service) != applied:
                assert time.monotonic() < deadline, "the service did not apply the step"
                time.sleep(0.05)
            served.append(_served_share(service, rows, len(rows) * len(served)))

    # One step a day while the interval's low end rules out more harm (-0.0095, -0.0066,
    # -0.0054, -0.0047, -0.0042), never beyond the last step (50%) while undecided, and the
    # service answers that share of ids with the challenger.
    assert shares == [0.05, 0.10, 0.25, 0.50, 0.50]
    assert ticks[-1].endswith("the canary share holds")
    for share, answered in zip(shares, served, strict=True):
        assert abs(answered - share) < 0.03
    # Each step is in the audit trail, and none started a new tenure of the pair: the
    # comparison's evidence goes on.
    steps = [m for m in audit_trail(registry.versions()) if m.action == Action.CANARY_SHARE_SET]
    assert len(steps) == len(set(shares))
    assert all(m.version == "2" and m.by == "challenger_test" for m in steps)
    assert roles_since(registry.version("1"), registry.version("2")) == since
    assert registry.version_by_alias("challenger").version == "2"
