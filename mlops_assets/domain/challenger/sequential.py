"""An anytime-valid test of a challenger against the champion on paired per-row losses.

The test
--------
Each labelled row gives d = loss(champion) - loss(challenger) in [-B, B] (B: the loss's bound,
`losses.loss_bound`). The days are accumulated in the empirical-Bernstein confidence sequence
of Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence
sequences", Annals of Statistics 49(2), 2021, Theorem 4, with the polynomial stitching boundary
of their Theorem 1 (s = 1.4, eta = 2: the defaults of their `confseq` package):

    S_t = sum(d_i),  V_t = sum((d_i - g_i)^2),  g_i a predictable guess in [-B, B]
    mean so far = S_t / t,  radius = u(V_t) / t,  c = 2B (the width of d's range)
    u(v) = sqrt(k1^2 v l(v) + (k2 c l(v))^2) + k2 c l(v),   v := max(v, v_min)
    l(v) = s log log(eta v / v_min) + log(zeta(s) / log(eta)^s) + log(2 / alpha)
    k1 = (eta^1/4 + eta^-1/4) / sqrt(2),  k2 = (sqrt(eta) + 1) / 2

With probability at least 1 - alpha the interval [mean - radius, mean + radius] holds the
average true effect at *every* row count t at once (alpha / 2 on each side), so reading it
after every day, and stopping on the first day it excludes a value, keeps the error at alpha / 2
for each direction. A fixed-sample t-test read daily does not (see docs/challengers.md).

Why this one: it needs only a day's sums to resume (S, V and the row count), so each day's
asset reads only that day's rows; its boundary is closed-form (no root finding, no randomness,
so a re-run gives the same bits); and V adapts to the variance of d, which is small when the
two models agree on most rows. The guess g_i is the mean of all earlier days (0 on the first
day), fixed for a whole day: it depends only on rows before the day, so it is predictable.

Decisions
---------
The verdict reads the running intersection of the intervals of every day so far (valid
wherever the intervals are, since they all hold at once): its low end never falls and its high
end never rises, so a day's verdict cannot undo an evidence-based one.

- ``promote`` (``proven_better``) when the low end is above `min_effect`;
- ``retire`` (``proven_worse``) when the high end is below 0, or (``not_better_by_min_effect``)
  below `min_effect`: both are evidence, and retiring a challenger truly better by min_effect
  or more this way happens at most alpha / 2 of the time;
- ``retire`` (``undecided_at_horizon``) when `max_rows` labelled rows or `max_days` days have
  gone by undecided: a cost decision, not evidence. It has no error control: a challenger better
  by less than what the horizon can detect is often retired this way (two 80% models erring
  independently: a 1-point gain in 77% of simulations, 1.5 points in 10%; docs/challengers.md);
- ``keep_collecting`` (``effect_changed``) when the intersection is empty (below);
- ``keep_collecting`` (``collecting``) otherwise.

An empty intersection (low above high) cannot happen if the rows share one effect, except in
the alpha of sequences where the intervals miss; with drift the intervals follow the average
effect over the challenger's life, which moves, and the intersection can close: it says "the
effect changed", not which model is better, so it is never a promotion or an evidence-based
retirement (the horizon still retires the challenger: that is a cost decision).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np

from mlops_assets.domain.challenger.losses import (
    LOSS_KINDS,
    ChallengerInputError,
    LossKind,
    loss_bound,
)

Decision = Literal["promote", "retire", "keep_collecting"]
Reason = Literal[
    "proven_better",
    "proven_worse",
    "not_better_by_min_effect",
    "undecided_at_horizon",
    "collecting",
    "effect_changed",
]
# The reasons backed by the confidence sequence (each wrong at most alpha / 2 of the time); the
# horizon's retirement is not among them.
EVIDENCE_REASONS: tuple[Reason, ...] = ("proven_better", "proven_worse", "not_better_by_min_effect")

# Howard et al. (2021)'s stitching parameters, as their `confseq` package's defaults.
_S = 1.4
_ETA = 2.0
_ZETA_S = 3.1055472779775806  # Riemann zeta(1.4)
_K1 = (_ETA**0.25 + _ETA**-0.25) / math.sqrt(2)
_K2 = (math.sqrt(_ETA) + 1) / 2
_STITCH_CONSTANT = math.log(_ZETA_S / math.log(_ETA) ** _S)
METADATA_PREFIX = "challenger_"


@dataclass(frozen=True)
class SequentialTestSettings:
    """What the test guarantees and when it gives up; fixed for a challenger's whole life
    (changing them mid-way voids the guarantee, so they travel inside the evidence).

    Attributes:
        loss: the per-row loss (see `losses`); `zero_one` by default.
        alpha: the chance the interval ever misses the true effect; each evidence-based
            decision's error is at most alpha / 2 (promoting a challenger that is not better by
            min_effect; retiring as proven worse or not better by min_effect one that is better by
            min_effect or more). The horizon's retirement has no such bound.
        min_effect: how much lower the challenger's mean loss must be proven to be, in the loss's
            units (0.002 = 0.2 accuracy points for `zero_one`): a version swap has a cost, and
            a difference smaller than this is not worth it.
        max_rows / max_days: the horizon; undecided after either, the challenger is retired
            as ``undecided_at_horizon``, a cost decision with no error control. What it cuts
            short depends on how often the models disagree: at 50,000 rows the interval's
            radius is about 0.0105 for two 80% models erring independently, so 90% of 1.5-point
            gains but only 23% of 1-point gains were promoted before it (docs/challengers.md
            has the rates); 60 days lets 1,000 labelled rows a day reach 50,000.
        v_min: the intrinsic time (sum of squared deviations) where the boundary starts: rows
            before it pay for v_min. 100 is about 300 rows of two independent 80% models.
    """

    loss: LossKind = "zero_one"
    alpha: float = 0.05
    min_effect: float = 0.002
    max_rows: int = 50_000
    max_days: int = 60
    v_min: float = 100.0

    def __post_init__(self) -> None:
        if self.loss not in LOSS_KINDS:
            raise ChallengerInputError(f"loss {self.loss!r} is not one of {LOSS_KINDS}")
        if not 0 < self.alpha < 1:
            raise ChallengerInputError(f"alpha must be in (0, 1), got {self.alpha}")
        if not 0 <= self.min_effect < loss_bound(self.loss):
            raise ChallengerInputError(
                f"min_effect must be in [0, {loss_bound(self.loss)}), got {self.min_effect}"
            )
        if self.max_rows < 1 or self.max_days < 1 or self.v_min <= 0:
            raise ChallengerInputError(
                "max_rows and max_days must be at least 1 and v_min above 0, got "
                f"{self.max_rows}, {self.max_days}, {self.v_min}"
            )


@dataclass(frozen=True)
class DaySummary:
    """One day's contribution: all the test needs from that day's rows."""

    day: str
    rows: int
    total: float  # sum of the day's differences
    squares: float  # sum of (d - centre)^2
    centre: float  # the guess g for the day: the mean of earlier days


@dataclass(frozen=True)
class ChallengerVerdict:
    """The day's reading of the test, for metadata, the sensor and the audit trail."""

    day: str
    decision: Decision
    reason: Reason
    rows: int  # labelled rows so far, this day included
    days: int
    day_rows: int
    effect: float  # mean of loss(champion) - loss(challenger): > 0 favours the challenger
    low: float
    high: float
    loss: LossKind
    alpha: float
    min_effect: float

    def to_metadata(self) -> dict[str, str | int | float]:
        """Flat numbers and words (Dagster shows them and plots the numbers by partition)."""
        return {f"{METADATA_PREFIX}{key}": value for key, value in asdict(self).items()}

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> ChallengerVerdict:
        """The verdict `to_metadata` wrote (values may be Dagster metadata values with .value)."""
        values = {}
        for name in cls.__dataclass_fields__:
            key = f"{METADATA_PREFIX}{name}"
            if key not in metadata:
                raise ChallengerInputError(f"metadata has no {key!r}; is it a verdict's?")
            raw = metadata[key]
            values[name] = getattr(raw, "value", raw)
        return cls(**values)


@dataclass(frozen=True)
class ChallengerEvidence:
    """The running evidence for one challenger: its settings and one summary per day, in day
    order. Immutable: `add_day` returns the next day's evidence."""

    settings: SequentialTestSettings = field(default_factory=SequentialTestSettings)
    days: tuple[DaySummary, ...] = ()

    @property
    def rows(self) -> int:
        return sum(day.rows for day in self.days)

    @property
    def total(self) -> float:
        return math.fsum(day.total for day in self.days)

    @property
    def variance_process(self) -> float:
        return math.fsum(day.squares for day in self.days)

    def add_day(self, day: str, differences: np.ndarray) -> ChallengerEvidence:
        """The evidence with `day`'s paired differences (see `losses.paired_differences`)
        added. Days must come in increasing order (ISO dates, or any keys that sort as days
        do); a day already counted is refused, since counting it twice voids the guarantee:
        re-run it from `before(day)`."""
        if self.days and day <= self.days[-1].day:
            raise ChallengerInputError(
                f"day {day!r} is not after the last day counted ({self.days[-1].day!r}); "
                f"re-run a day from evidence.before({day!r})"
            )
        d = np.asarray(differences, dtype=float)
        if d.ndim != 1:
            raise ChallengerInputError(
                f"day {day!r}: the paired differences have shape {d.shape}; pass one per row"
            )
        bound = loss_bound(self.settings.loss)
        outside = ~np.isfinite(d) | (np.abs(d) > bound)
        if outside.any():
            row = int(np.flatnonzero(outside)[0])
            raise ChallengerInputError(
                f"day {day!r}: the paired difference at row {row} is {d[row]}, outside "
                f"[-{bound}, {bound}] for {self.settings.loss} loss"
            )
        centre = self.total / self.rows if self.rows else 0.0
        summary = DaySummary(
            day=day,
            rows=int(d.size),
            total=float(np.sum(d)),
            squares=float(np.sum((d - centre) ** 2)),
            centre=centre,
        )
        return replace(self, days=(*self.days, summary))

    def before(self, day: str) -> ChallengerEvidence:
        """The evidence as it stood before `day`: where a re-run of `day` starts."""
        return replace(self, days=tuple(d for d in self.days if d.day < day))

    def interval(self) -> tuple[float, float, float]:
        """(mean difference, low, high): the mean of all rows so far and the running
        intersection of every day's confidence-sequence interval; with no row the effect is 0
        and the interval the whole range. The mean can fall outside an intersection that has
        closed in from an earlier day."""
        bound = loss_bound(self.settings.loss)
        low, high = -bound, bound
        rows, total, squares = 0, 0.0, 0.0
        for day in self.days:
            rows += day.rows
            total += day.total
            squares += day.squares
            if rows:
                radius = (
                    stitching_boundary(
                        squares, self.settings.alpha / 2, self.settings.v_min, 2 * bound
                    )
                    / rows
                )
                low, high = max(low, total / rows - radius), min(high, total / rows + radius)
        return (self.total / self.rows if self.rows else 0.0), low, high

    def verdict(self) -> ChallengerVerdict:
        """The decision on the evidence so far (see the module's docstring)."""
        if not self.days:
            raise ChallengerInputError("no day has been counted yet; add_day first")
        settings = self.settings
        effect, low, high = self.interval()
        decision: Decision
        reason: Reason
        at_horizon = self.rows >= settings.max_rows or len(self.days) >= settings.max_days
        if low > high and not at_horizon:
            decision, reason = "keep_collecting", "effect_changed"
        elif low > high:
            decision, reason = "retire", "undecided_at_horizon"
        elif low > settings.min_effect:
            decision, reason = "promote", "proven_better"
        elif high < 0:
            decision, reason = "retire", "proven_worse"
        elif high < settings.min_effect:
            decision, reason = "retire", "not_better_by_min_effect"
        elif at_horizon:
            decision, reason = "retire", "undecided_at_horizon"
        else:
            decision, reason = "keep_collecting", "collecting"
        return ChallengerVerdict(
            day=self.days[-1].day,
            decision=decision,
            reason=reason,
            rows=self.rows,
            days=len(self.days),
            day_rows=self.days[-1].rows,
            effect=effect,
            low=low,
            high=high,
            loss=settings.loss,
            alpha=settings.alpha,
            min_effect=settings.min_effect,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ChallengerEvidence:
        try:
            raw = json.loads(text)
            days = tuple(DaySummary(**day) for day in raw["days"])
            settings = SequentialTestSettings(**raw["settings"])
        except (KeyError, TypeError, json.JSONDecodeError) as error:
            raise ChallengerInputError(
                f"not a stored ChallengerEvidence ({error}); it is written by to_json"
            ) from error
        order = [day.day for day in days]
        if order != sorted(set(order)):
            raise ChallengerInputError(f"stored evidence has days out of order or twice: {order}")
        return cls(settings=settings, days=days)


def judge_day(
    evidence: ChallengerEvidence, day: str, differences: np.ndarray
) -> tuple[ChallengerEvidence, ChallengerVerdict]:
    """One day of the test: the previous day's evidence plus this day's paired differences
    gives this day's evidence (to store) and verdict (to act on). Pure: the same inputs give
    the same outputs."""
    updated = evidence.add_day(day, differences)
    return updated, updated.verdict()


def stitching_boundary(v: float, alpha: float, v_min: float, c: float) -> float:
    """Howard et al. (2021)'s polynomial stitching boundary u(v) for a sub-gamma process of
    scale c: the sum of the centred differences stays below u(V_t) at every t with probability
    at least 1 - alpha."""
    used = max(v, v_min)
    ell = _S * math.log(math.log(_ETA * used / v_min)) + _STITCH_CONSTANT + math.log(1 / alpha)
    term = _K2 * c * ell
    return math.sqrt(_K1**2 * used * ell + term**2) + term
