"""The `challenger` alias moved by hand: set a version as the challenger, or retire it.

Both go through the same lock and audit trail as every move of `champion` (moves.py): one
challenger at a time, so setting one replaces the one before, recorded on both.
"""

from __future__ import annotations

from mlops_assets.contracts import CHALLENGER_ALIAS, CHAMPION_ALIAS
from mlops_assets.domain.promotion.audit import Action, AliasMove, now_utc, record, requester
from mlops_assets.domain.promotion.gate import DEFAULT_MANUAL_PROMOTION, ManualPromotion
from mlops_assets.domain.promotion.history import PromotionError
from mlops_assets.domain.promotion.moves import (
    BY_HAND,
    ChampionRegistry,
    Locks,
    champion_lock,
    repair_interrupted,
)
from mlops_assets.domain.promotion.pending import make_challenger
from mlops_assets.domain.registry import RegistryVersion


def set_challenger(
    registry: ChampionRegistry,
    locks: Locks,
    version: str,
    reason: str,
    requested_by: str = "",
    manual: ManualPromotion = DEFAULT_MANUAL_PROMOTION,
) -> AliasMove | None:
    """Make `version` the challenger by hand, after verifying its artefact; the challenger
    before it (if any) loses the alias. None when it already is the challenger.

    Raises PromotionError for an unknown version or the champion (a version holds one role),
    and the registry's artefact error when its files do not match their recorded hash;
    nothing is changed then.
    """
    wanted = version.strip()
    with champion_lock(registry, locks):
        repair_interrupted(registry, manual=manual)
        held = _known(registry, wanted)
        if CHAMPION_ALIAS in held.aliases:
            raise PromotionError(
                f"{registry.model_name} v{wanted} holds `champion`; a version holds one role. "
                "Nothing was changed."
            )
        if CHALLENGER_ALIAS in held.aliases:
            return None
        # What live scoring will load must be what was registered.
        registry.load_model(wanted)
        move = AliasMove(
            wanted, Action.CHALLENGER_SET, now_utc(), requester(requested_by), reason, BY_HAND
        )
        make_challenger(registry, move)
        return move


def retire_challenger(
    registry: ChampionRegistry,
    locks: Locks,
    version: str,
    reason: str,
    requested_by: str = "",
    manual: ManualPromotion = DEFAULT_MANUAL_PROMOTION,
) -> AliasMove:
    """Take `challenger` off `version` by hand. Naming the version (not just "the
    challenger") is the compare-and-set: a challenger replaced since the person looked is not
    retired by mistake.

    Raises PromotionError when `version` does not hold `challenger`; nothing is changed then.
    """
    wanted = version.strip()
    with champion_lock(registry, locks):
        repair_interrupted(registry, manual=manual)
        held = _known(registry, wanted)
        if CHALLENGER_ALIAS not in held.aliases:
            now = registry.version_by_alias(CHALLENGER_ALIAS)
            holder = "no version" if now is None else f"v{now.version}"
            raise PromotionError(
                f"{registry.model_name} v{wanted} is not the challenger ({holder} holds "
                "`challenger`); nothing was changed."
            )
        registry.delete_alias(CHALLENGER_ALIAS)
        move = AliasMove(
            wanted, Action.CHALLENGER_RETIRED, now_utc(), requester(requested_by), reason, BY_HAND
        )
        record(registry, move)
        return move


def _known(registry: ChampionRegistry, version: str) -> RegistryVersion:
    versions = {v.version: v for v in registry.versions()}
    if version not in versions:
        known = ", ".join(versions) or "none registered yet"
        raise PromotionError(
            f"{registry.model_name} has no version {version!r} (versions: {known}); "
            "nothing was changed."
        )
    return versions[version]
