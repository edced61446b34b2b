"""Thompson sampling over {champion, challenger} for the serving service's bandit mode, rewarded
by labels that land later, keyed by the request id.

Beta-Bernoulli, not Gaussian: the reward is whether the answer was right (1 - the 0/1 loss),
a Bernoulli outcome whose conjugate posterior is exact and has no variance to guess, which a
Gaussian model of losses would need. A reward in (0, 1) (e.g. 1 - Brier / 2) is accepted as a
fractional success, the usual approximation.

Each request draws one value from each arm's Beta posterior and is answered by the arm with
the larger draw; `min_share` of the requests go to each arm whatever the posteriors say, so the
losing arm keeps being measured (the posteriors can recover from an unlucky start, and the
champion keeps a baseline under drift).

Discounted: `decay(days)` shrinks each arm's evidence towards the Beta(1, 1) prior by
`discount ** days` (Raj & Kalyani 2017, "Taming non-stationary bandits: a Bayesian approach"),
so labels from about 1 / (1 - discount) days back dominate: 10 days at the default 0.9. Without
it the posteriors never forget, and after the arms swap places the better arm needs as many
requests as the whole history to win traffic back. The service calls `decay` once a day (or
with the days elapsed); `discount=1` is the stationary sampler.

The arm that answered is remembered per request id until its label lands; a label for an
unknown id (already rewarded, forgotten, or never served) is counted, not applied, so a
duplicated label file cannot count twice.

The sampler is deterministic given its seed: its random generator's state is part of its
serialised state, so a restored sampler draws what the original would have drawn. Every method
that reads or changes its state (`choose`, `reward`, `decay`, `to_json`, `to_metadata`, ...)
holds one internal lock, so a service may call them from concurrent threads.
"""

from __future__ import annotations

import json
import numbers
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from mlops_assets.domain.challenger.losses import ChallengerInputError

Arm = Literal["champion", "challenger"]
ARMS: tuple[Arm, ...] = get_args(Arm)
# One million open requests is ~100 MB of ids; older ones are forgotten first (and counted).
DEFAULT_MAX_PENDING = 1_000_000
# Evidence loses 10% of its weight a day: the last ~10 days of labels dominate.
DEFAULT_DISCOUNT = 0.9
# The posterior mass the win probability's grid leaves out at each end.
_TAIL = 1e-12


@dataclass(frozen=True)
class RewardSummary:
    """What a batch of landed labels did: rewards applied per arm, and labels whose request
    the sampler does not know (already rewarded, forgotten as too old, or never served)."""

    champion: int
    challenger: int
    unmatched: int


class ThompsonSampler:
    """Beta(1, 1)-prior discounted Thompson sampling over the two roles with a minimum share
    per arm."""

    def __init__(
        self,
        *,
        min_share: float = 0.05,
        seed: int = 0,
        max_pending: int = DEFAULT_MAX_PENDING,
        discount: float = DEFAULT_DISCOUNT,
    ) -> None:
        if not 0 <= min_share <= 0.5:
            raise ChallengerInputError(f"min_share must be in [0, 0.5], got {min_share}")
        if max_pending < 1:
            raise ChallengerInputError(f"max_pending must be at least 1, got {max_pending}")
        if not 0 < discount <= 1:
            raise ChallengerInputError(f"discount must be in (0, 1], got {discount}")
        self.min_share = min_share
        self.max_pending = max_pending
        self.discount = discount
        self.successes: dict[Arm, float] = dict.fromkeys(ARMS, 1.0)
        self.failures: dict[Arm, float] = dict.fromkeys(ARMS, 1.0)
        self.rewarded: dict[Arm, int] = dict.fromkeys(ARMS, 0)
        self.pending: dict[str, Arm] = {}
        self.unmatched = 0
        self.forgotten = 0
        self._rng = np.random.default_rng(seed)
        self._lock = threading.RLock()

    def choose(self, request_id: str) -> Arm:
        """The arm that answers `request_id`, remembered until its label lands. An id already
        waiting for its label is answered by the same arm (a retried request is not a new
        trial)."""
        with self._lock:
            return self._choose(request_id)

    def _choose(self, request_id: str) -> Arm:
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
        answer was right; any real number, numpy's included, or a bool). Each id is rewarded
        once; if one reward is refused, none is applied."""
        values: dict[str, float] = {}
        for request_id, value in rewards.items():
            number = float(value) if isinstance(value, numbers.Real | np.bool_) else None
            if number is None or not 0 <= number <= 1:
                raise ChallengerInputError(
                    f"reward for request {request_id!r} is {value!r}; it must be a number in "
                    "[0, 1] (1 when the answer was right)"
                )
            values[request_id] = number
        with self._lock:
            applied: dict[Arm, int] = dict.fromkeys(ARMS, 0)
            unmatched = 0
            for request_id, number in values.items():
                arm = self.pending.pop(request_id, None)
                if arm is None:
                    unmatched += 1
                    continue
                self.successes[arm] += number
                self.failures[arm] += 1.0 - number
                applied[arm] += 1
                self.rewarded[arm] += 1
            self.unmatched += unmatched
        return RewardSummary(applied["champion"], applied["challenger"], unmatched)

    def decay(self, days: float = 1.0) -> None:
        """Forget: each arm's evidence (its counts above the Beta(1, 1) prior) is multiplied by
        `discount ** days`. Call it once a day, or with the days elapsed since the last call."""
        if not days >= 0:
            raise ChallengerInputError(f"days must be at least 0, got {days}")
        factor = self.discount**days
        with self._lock:
            for arm in ARMS:
                self.successes[arm] = 1.0 + factor * (self.successes[arm] - 1.0)
                self.failures[arm] = 1.0 + factor * (self.failures[arm] - 1.0)

    def posterior_mean(self, arm: Arm) -> float:
        """The arm's expected reward (its accuracy, for 0/1 rewards)."""
        with self._lock:
            return self.successes[arm] / (self.successes[arm] + self.failures[arm])

    def challenger_win_probability(self) -> float:
        """P(challenger's reward rate > champion's) under the posteriors: the share of requests
        the challenger gets, before the minimum shares. Numerical integration (no random draw,
        so reading it does not move the sampler) over the narrower posterior's quantiles from
        1e-12 to 1 - 1e-12, so that posteriors of 1e8 rewards, 1e-4 wide, are not missed by
        the grid."""
        # scipy.stats takes a noticeable part of a second to import; the service imports this
        # module at start-up and needs it only for metadata.
        from scipy import stats

        with self._lock:
            challenger = stats.beta(self.successes["challenger"], self.failures["challenger"])
            champion = stats.beta(self.successes["champion"], self.failures["champion"])
        # P(X > Y) = integral of f_X F_Y over X's support: integrate over the narrower one, so
        # the other's cdf is smooth on the grid.
        if challenger.std() <= champion.std():
            narrow, wide, flip = challenger, champion, False
        else:
            narrow, wide, flip = champion, challenger, True
        grid = np.linspace(narrow.ppf(_TAIL), narrow.ppf(1 - _TAIL), 4001)
        integrand = np.nan_to_num(narrow.pdf(grid) * wide.cdf(grid))
        value = float(np.sum((integrand[1:] + integrand[:-1]) / 2) * (grid[1] - grid[0]))
        value = 1.0 - value if flip else value
        return min(max(value, 0.0), 1.0)

    def to_metadata(self) -> dict[str, str | int | float]:
        with self._lock:
            return {
                "bandit_champion_mean": self.posterior_mean("champion"),
                "bandit_challenger_mean": self.posterior_mean("challenger"),
                "bandit_champion_rewards": self.rewarded["champion"],
                "bandit_challenger_rewards": self.rewarded["challenger"],
                # The discounted evidence behind each posterior, in rewards.
                "bandit_champion_weight": self._weight("champion"),
                "bandit_challenger_weight": self._weight("challenger"),
                "bandit_challenger_win_probability": self.challenger_win_probability(),
                "bandit_pending": len(self.pending),
                "bandit_unmatched_labels": self.unmatched,
                "bandit_forgotten_requests": self.forgotten,
            }

    def to_json(self) -> str:
        with self._lock:
            return json.dumps(
                {
                    "min_share": self.min_share,
                    "max_pending": self.max_pending,
                    "discount": self.discount,
                    "successes": self.successes,
                    "failures": self.failures,
                    "rewarded": self.rewarded,
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
            sampler = cls(
                min_share=raw["min_share"],
                max_pending=raw["max_pending"],
                discount=raw["discount"],
            )
            for name in ARMS:
                sampler.successes[name] = float(raw["successes"][name])
                sampler.failures[name] = float(raw["failures"][name])
                sampler.rewarded[name] = int(raw["rewarded"][name])
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

    def _weight(self, arm: Arm) -> float:
        # The Beta(1, 1) prior's two pseudo-trials are not rewards.
        return self.successes[arm] + self.failures[arm] - 2
