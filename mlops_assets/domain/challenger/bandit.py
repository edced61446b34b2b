"""Thompson sampling over {champion, challenger} for the serving service's bandit mode, rewarded
by labels that land later, keyed by the request id.

Beta-Bernoulli, not Gaussian: the reward is whether the answer was right (1 - the 0/1 loss),
a Bernoulli outcome whose conjugate posterior is exact and has no variance to guess, which a
Gaussian model of losses would need. A reward in (0, 1) (e.g. 1 - Brier / 2) is accepted as a
fractional success, the usual approximation.

Each request draws one value from each arm's Beta posterior and is answered by the arm with
the larger draw; `min_share` of the requests go to each arm whatever the posteriors say, so the
losing arm keeps being measured (the posteriors can recover from an unlucky start, and the
champion keeps a baseline under drift). The arm that answered is remembered per request id
until its label lands; a label for an unknown id (already rewarded, forgotten, or never served)
is counted, not applied, so a duplicated label file cannot count twice.

The sampler is deterministic given its seed: its random generator's state is part of its
serialised state, so a restored sampler draws what the original would have drawn. It is not
thread-safe; a service that answers concurrently holds a lock around `choose`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from mlops_assets.domain.challenger.losses import ChallengerInputError

Arm = Literal["champion", "challenger"]
ARMS: tuple[Arm, ...] = get_args(Arm)
# One million open requests is ~100 MB of ids; older ones are forgotten first (and counted).
DEFAULT_MAX_PENDING = 1_000_000


@dataclass(frozen=True)
class RewardSummary:
    """What a batch of landed labels did: rewards applied per arm, and labels whose request
    the sampler does not know (already rewarded, forgotten as too old, or never served)."""

    champion: int
    challenger: int
    unmatched: int


class ThompsonSampler:
    """Beta(1, 1)-prior Thompson sampling over the two roles with a minimum share per arm."""

    def __init__(
        self,
        *,
        min_share: float = 0.05,
        seed: int = 0,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        if not 0 <= min_share <= 0.5:
            raise ChallengerInputError(f"min_share must be in [0, 0.5], got {min_share}")
        if max_pending < 1:
            raise ChallengerInputError(f"max_pending must be at least 1, got {max_pending}")
        self.min_share = min_share
        self.max_pending = max_pending
        self.successes: dict[Arm, float] = dict.fromkeys(ARMS, 1.0)
        self.failures: dict[Arm, float] = dict.fromkeys(ARMS, 1.0)
        self.pending: dict[str, Arm] = {}
        self.unmatched = 0
        self.forgotten = 0
        self._rng = np.random.default_rng(seed)

    def choose(self, request_id: str) -> Arm:
        """The arm that answers `request_id`, remembered until its label lands. An id already
        waiting for its label is answered by the same arm (a retried request is not a new
        trial)."""
        if request_id in self.pending:
            return self.pending[request_id]
        u = float(self._rng.random())
        arm: Arm
        if u < self.min_share:
            arm = "champion"
        elif u < 2 * self.min_share:
            arm = "challenger"
        else:
            draws = {
                name: float(self._rng.beta(self.successes[name], self.failures[name]))
                for name in ARMS
            }
            # A tie keeps the champion: the incumbent needs no evidence to stay.
            arm = "challenger" if draws["challenger"] > draws["champion"] else "champion"
        self.pending[request_id] = arm
        if len(self.pending) > self.max_pending:
            del self.pending[next(iter(self.pending))]
            self.forgotten += 1
        return arm

    def reward(self, rewards: Mapping[str, float]) -> RewardSummary:
        """Apply landed labels: `rewards` maps request id to its reward in [0, 1] (1 when the
        answer was right). Each id is rewarded once."""
        for request_id, value in rewards.items():
            if not (isinstance(value, int | float) and 0 <= value <= 1):
                raise ChallengerInputError(
                    f"reward for request {request_id!r} is {value!r}; it must be a number in "
                    "[0, 1] (1 when the answer was right)"
                )
        applied: dict[Arm, int] = dict.fromkeys(ARMS, 0)
        unmatched = 0
        for request_id, value in rewards.items():
            arm = self.pending.pop(request_id, None)
            if arm is None:
                unmatched += 1
                continue
            self.successes[arm] += float(value)
            self.failures[arm] += 1.0 - float(value)
            applied[arm] += 1
        self.unmatched += unmatched
        return RewardSummary(applied["champion"], applied["challenger"], unmatched)

    def posterior_mean(self, arm: Arm) -> float:
        """The arm's expected reward (its accuracy, for 0/1 rewards)."""
        return self.successes[arm] / (self.successes[arm] + self.failures[arm])

    def challenger_win_probability(self) -> float:
        """P(challenger's reward rate > champion's) under the posteriors: the share of requests
        the challenger gets, before the minimum shares. Numerical integration on a grid (no
        random draw, so reading it does not move the sampler)."""
        # scipy.stats takes a noticeable part of a second to import; the service imports this
        # module at start-up and needs it only for metadata.
        from scipy import stats

        grid = np.linspace(0.0, 1.0, 4001)
        challenger = stats.beta.pdf(grid, self.successes["challenger"], self.failures["challenger"])
        champion = stats.beta.cdf(grid, self.successes["champion"], self.failures["champion"])
        integrand = np.nan_to_num(challenger * champion)
        value = float(np.sum((integrand[1:] + integrand[:-1]) / 2) * (grid[1] - grid[0]))
        return min(max(value, 0.0), 1.0)

    def to_metadata(self) -> dict[str, str | int | float]:
        return {
            "bandit_champion_mean": self.posterior_mean("champion"),
            "bandit_challenger_mean": self.posterior_mean("challenger"),
            "bandit_champion_rewards": self._trials("champion"),
            "bandit_challenger_rewards": self._trials("challenger"),
            "bandit_challenger_win_probability": self.challenger_win_probability(),
            "bandit_pending": len(self.pending),
            "bandit_unmatched_labels": self.unmatched,
            "bandit_forgotten_requests": self.forgotten,
        }

    def to_json(self) -> str:
        return json.dumps(
            {
                "min_share": self.min_share,
                "max_pending": self.max_pending,
                "successes": self.successes,
                "failures": self.failures,
                "pending": self.pending,
                "unmatched": self.unmatched,
                "forgotten": self.forgotten,
                "rng": self._rng.bit_generator.state,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ThompsonSampler:
        try:
            raw: dict[str, Any] = json.loads(text)
            sampler = cls(min_share=raw["min_share"], max_pending=raw["max_pending"])
            for name in ARMS:
                sampler.successes[name] = float(raw["successes"][name])
                sampler.failures[name] = float(raw["failures"][name])
            pending = {str(k): v for k, v in raw["pending"].items()}
            wrong = [v for v in pending.values() if v not in ARMS]
            if wrong:
                raise ChallengerInputError(f"pending names an unknown arm {wrong[0]!r}")
            sampler.pending = pending
            sampler.unmatched = int(raw["unmatched"])
            sampler.forgotten = int(raw["forgotten"])
            sampler._rng.bit_generator.state = raw["rng"]
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, ChallengerInputError):
                raise
            raise ChallengerInputError(
                f"not a stored ThompsonSampler ({error}); it is written by to_json"
            ) from error
        return sampler

    def _trials(self, arm: Arm) -> int:
        # The Beta(1, 1) prior's two pseudo-trials are not rewards.
        return round(self.successes[arm] + self.failures[arm] - 2)
