"""The canary's share: how much live traffic the challenger answers, raised in steps as the
sequential test's evidence rules out harm.

The steps are 5% -> 10% -> 25% -> 50%. Holding a step needs the confidence sequence's low end
on the effect (loss(champion) - loss(challenger), `sequential.ChallengerVerdict.low`) above
that step's harm bound: the challenger is allowed to be at worst that much worse, with the
test's confidence, for that many users. With 0/1 loss the defaults read "10% of traffic once
the challenger is shown to cost at most 2 accuracy points, 25% at most 1, 50% at most 0.5".

Each day the share moves:
- up by at most one step (a single good day cannot jump from 5% to 50%);
- down at once to the highest step the evidence still supports (safety before speed);
- to 0 when the verdict retires the challenger, and to 1 when it promotes it (the alias swap,
  the blue-green switch, then serves everyone from the new champion).
The first step needs no evidence: 5% is the exposure accepted to start a canary at all (the
shadow scoring behind the test costs no user anything).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from mlops_assets.domain.challenger.losses import LOSS_KINDS, ChallengerInputError, LossKind
from mlops_assets.domain.challenger.sequential import ChallengerVerdict


@dataclass(frozen=True)
class CanarySchedule:
    """`shares[k]` is held while the verdict's low end is above `-harm[k]` (harm[0] is
    ignored: the first step is unconditional). Harm is in `loss`'s units, and a verdict on
    another loss is refused."""

    shares: tuple[float, ...] = (0.05, 0.10, 0.25, 0.50)
    harm: tuple[float, ...] = (float("inf"), 0.02, 0.01, 0.005)
    loss: LossKind = "zero_one"

    def __post_init__(self) -> None:
        if self.loss not in LOSS_KINDS:
            raise ChallengerInputError(f"loss {self.loss!r} is not one of {LOSS_KINDS}")
        if not self.shares or len(self.shares) != len(self.harm):
            raise ChallengerInputError(
                f"a canary schedule needs one harm bound per share; got {len(self.shares)} "
                f"shares and {len(self.harm)} bounds"
            )
        if any(not 0 < s < 1 for s in self.shares) or list(self.shares) != sorted(set(self.shares)):
            raise ChallengerInputError(
                f"canary shares must increase strictly within (0, 1), got {self.shares}"
            )
        if any(h < 0 for h in self.harm) or list(self.harm[1:]) != sorted(
            self.harm[1:], reverse=True
        ):
            raise ChallengerInputError(
                f"harm bounds must be non-negative and shrink step by step, got {self.harm}"
            )


def next_canary_share(
    current: float, verdict: ChallengerVerdict, schedule: CanarySchedule | None = None
) -> float:
    """The challenger's share of live traffic for the next day, given today's share
    (0 before the canary starts, one of the schedule's shares, or 1 once promoted) and today's
    verdict, which must be on the schedule's loss."""
    schedule = schedule or CanarySchedule()
    if verdict.loss != schedule.loss:
        raise ChallengerInputError(
            f"the verdict is on {verdict.loss} loss and the canary's harm bounds on "
            f"{schedule.loss}; give a CanarySchedule(loss={verdict.loss!r}, harm=...) in its units"
        )
    if current != 0 and current != 1 and current not in schedule.shares:
        raise ChallengerInputError(
            f"the current canary share {current} is not 0, 1 or a step of {schedule.shares}"
        )
    if verdict.decision == "retire":
        return 0.0
    if verdict.decision == "promote" or current == 1:
        # Promotion is final: the running interval's low end never falls, and the alias swap
        # has made the challenger the champion.
        return 1.0
    supported = max(k for k, bound in enumerate(schedule.harm) if k == 0 or verdict.low > -bound)
    now = schedule.shares.index(current) if current else -1
    return schedule.shares[min(supported, now + 1)]


@dataclass(frozen=True)
class CanaryShare:
    """The canary share the challenger sensor set for one tenure of a pair (the registry tag
    `canary_share` on the challenger's version): the share, the champion it runs beside, when
    the pair took its roles (`roles_since`) and the verdict's day it stepped on."""

    share: float
    champion: str
    since: str
    day: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def applies(self, champion: str, challenger_since: str) -> bool:
        """Whether the service should serve this share beside `champion`: stepped for that
        champion, in a tenure the challenger has not left since (`challenger_since`: its own
        last move of an alias, which is never later than the pair's tenure start)."""
        return self.champion == champion and self.since >= challenger_since

    @classmethod
    def from_json(cls, text: str) -> CanaryShare | None:
        """The record, or None for a tag that is not one (written by hand, or damaged): the
        service then serves its configured share and the sensor starts the steps again."""
        try:
            fields = json.loads(text)
            return cls(
                share=float(fields["share"]),
                champion=str(fields["champion"]),
                since=str(fields["since"]),
                day=str(fields["day"]),
            )
        except (ValueError, TypeError, KeyError):
            return None


def canary_step(
    stored: CanaryShare | None,
    verdict: ChallengerVerdict,
    champion: str,
    since: str,
    schedule: CanarySchedule | None = None,
) -> CanaryShare | None:
    """The share to store after `verdict` (a day still collecting evidence on the pair
    `champion` / the challenger in the tenure `since`), or None when it stays as stored: the
    verdict's day was stepped on already (so a sensor that ticks many times a day moves one
    step a day), or the share does not change. A record of another tenure counts as none: a new
    pair starts at the first step. The share never goes above the schedule's last step while
    undecided; a promotion is the alias swap, not a share."""
    schedule = schedule or CanarySchedule()
    if verdict.decision != "keep_collecting":
        return None
    current = (
        stored
        if stored is not None
        and (stored.champion, stored.since)
        == (
            champion,
            since,
        )
        else None
    )
    if current is not None and current.day >= verdict.day:
        return None
    before = current.share if current is not None else 0.0
    if before not in schedule.shares:
        before = 0.0  # a share written by hand off the steps: the steps start again
    share = next_canary_share(before, verdict, schedule)
    if current is not None and share == current.share:
        return None
    return CanaryShare(share, champion, since, verdict.day)
