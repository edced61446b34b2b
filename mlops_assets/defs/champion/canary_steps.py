"""The canary's share, stepped by the challenger sensor on a verdict still collecting evidence
(domain/promotion/verdicts.py: step_canary_share): one function the sensor calls, so the
sensor's own logic (promote, retire) stays apart from the steps."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_assets.domain.challenger import ChallengerVerdict
    from mlops_assets.domain.promotion.moves import Locks


def step_canary(
    registry: Any,
    locks: "Locks",
    verdict: "ChallengerVerdict",
    champion: str,
    challenger: str,
    since: str,
) -> str:
    """Step the share the service's canary gives the challenger (the tag `canary_share` on its
    version, with an audit entry) and say what happened, in a sentence for the tick. The
    champion lock is the sensor's (`locks`): its timeout is raised to the sensor, which says
    so for a step as for a move."""
    from mlops_assets.domain.challenger.canary import CanarySchedule
    from mlops_assets.domain.promotion.verdicts import step_canary_share

    schedule = CanarySchedule()
    if verdict.loss != schedule.loss:
        # The harm bounds are in the schedule's loss: a verdict on another one cannot step them.
        return (
            f"the canary share was not stepped: its harm bounds are in {schedule.loss} loss and "
            f"the verdict is on {verdict.loss} loss (the service keeps MLOPS_CANARY_SHARE)"
        )
    stepped = step_canary_share(registry, locks, verdict, champion, challenger, since, schedule)
    if stepped is None:
        return "the canary share holds"
    share, _ = stepped
    return f"the canary share is now {share.share:.0%} of live traffic"
