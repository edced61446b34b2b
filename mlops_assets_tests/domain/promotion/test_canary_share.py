"""The canary's share stepped through the promotion service, against an in-memory registry:
under the lock, on the pair the verdict judged only, one step per verdict day, an entry in the
audit trail that moves no alias and starts no new tenure."""

from __future__ import annotations

import dataclasses

from mlops_assets.contracts import CANARY_SHARE_TAG, CHALLENGER_ALIAS, CHAMPION_ALIAS
from mlops_assets.domain.challenger import ChallengerVerdict
from mlops_assets.domain.challenger.canary import CanaryShare
from mlops_assets.domain.promotion import Action, audit_trail
from mlops_assets.domain.promotion.audit import roles_since
from mlops_assets.domain.promotion.verdicts import step_canary_share
from mlops_assets_tests.domain.promotion.test_moves import InMemoryRegistry
from mlops_assets_tests.domain.promotion.test_roles import _gate

COLLECTING = ChallengerVerdict(
    day="2026-03-01",
    decision="keep_collecting",
    reason="collecting",
    rows=20_000,
    days=4,
    day_rows=5000,
    effect=0.0,
    low=-0.004,
    high=0.004,
    loss="zero_one",
    alpha=0.05,
    min_effect=0.002,
)


def _stored(registry: InMemoryRegistry) -> CanaryShare | None:
    tag = registry.version("2").tags.get(CANARY_SHARE_TAG)
    return CanaryShare.from_json(tag) if tag else None


def test_the_share_steps_once_a_day_on_the_current_pair_and_keeps_the_tenure():
    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    assert _gate(registry, "r2", -0.01, 0.01) == "challenger"
    since = roles_since(registry.version("1"), registry.version("2"))

    def step(verdict: ChallengerVerdict, champion: str = "1", tenure: str = since):
        return step_canary_share(registry, registry.lock, verdict, champion, "2", tenure)

    stepped = step(COLLECTING)
    assert stepped is not None and stepped[0].share == 0.05
    assert stepped[1].action == Action.CANARY_SHARE_SET and "0% -> 5%" in stepped[1].reason
    assert step(COLLECTING) is None  # the same day again
    assert step(dataclasses.replace(COLLECTING, day="2026-03-02"))[0].share == 0.10
    assert _stored(registry) == CanaryShare(0.10, "1", since, "2026-03-02")
    # A verdict on another pair, or another tenure, moves nothing.
    assert step(dataclasses.replace(COLLECTING, day="2026-03-03"), champion="3") is None
    assert step(dataclasses.replace(COLLECTING, day="2026-03-03"), tenure="earlier") is None
    # Promote and retire are alias moves (act_on_verdict), not shares.
    promoted = dataclasses.replace(COLLECTING, day="2026-03-03", decision="promote")
    assert step(promoted) is None
    assert registry.aliases == {CHAMPION_ALIAS: "1", CHALLENGER_ALIAS: "2"}
    # The steps are in the trail, the role is still `challenger` and the tenure unchanged.
    trail = [(m.version, m.action) for m in audit_trail(registry.versions())]
    assert trail[-2:] == [("2", Action.CANARY_SHARE_SET), ("2", Action.CANARY_SHARE_SET)]
    assert roles_since(registry.version("1"), registry.version("2")) == since


def test_a_verdict_on_another_loss_leaves_the_share_and_the_tick_whole():
    """challenger_comparison's `loss` may be brier or log_loss; the canary's harm bounds are in
    0/1 loss. A keep_collecting verdict on another loss steps nothing, and the sensor's tick
    says why instead of failing on every tick."""
    from mlops_assets.defs.champion.canary_steps import step_canary

    registry = InMemoryRegistry()
    registry.add_champion("2026-01-01T00:00:00+00:00")
    assert _gate(registry, "r2", -0.01, 0.01) == "challenger"
    since = roles_since(registry.version("1"), registry.version("2"))
    brier = dataclasses.replace(COLLECTING, loss="brier")

    said = step_canary(registry, registry.lock, brier, "1", "2", since)
    assert "brier" in said and "not stepped" in said
    assert _stored(registry) is None
    assert step_canary_share(registry, registry.lock, brier, "1", "2", since) is None
