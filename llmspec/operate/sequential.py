"""The rollout's decision: always-valid confidence sequences on the challenger's difference
from the champion, looked at as often as one likes.

Each side's mean of a figure gets a time-uniform confidence sequence: Robbins' normal-mixture
boundary with the variance estimated from the data (the asymptotic confidence sequence of
Waudby-Smith, Arnold, Wu, Wang and Ramdas, "Time-uniform central limit theory and asymptotic
confidence sequences", 2021, Theorem 2.2):

    mean ± σ̂ · sqrt( 2(nρ² + 1) / (n²ρ²) · log( sqrt(nρ² + 1) / a ) )

The mean lies inside it at every n at once with probability 1 − a (asymptotically in n), so a
decision may be taken at any look without the error growing with the number of looks. The
difference d = challenger − champion (turned so that positive is better) lies in
[lower_c − upper_p, upper_c − lower_p] whenever both sides' sequences hold; each side runs at
a = α / (2k) for k guards, so by the union bound every guard's interval holds at every look
with probability ≥ 1 − α. The two sides are counted separately, so it stays valid when the
traffic split changes from step to step.

A rollout rolls back once some guard's whole interval is below −margin (the challenger is worse
by more than the margin) and completes once every guard's interval is above −margin: either is
wrong only when an interval misses, so a wrong decision has probability ≤ α over the whole
rollout. Assumptions: requests on each side are independent draws from one distribution while
the rollout runs (no drift in what people ask that favours one side), and enough of them for
the central limit theorem (`min_requests` per side before any decision). Figures bounded in
[0, 1] (rates, judge scores) get one pseudo-observation of the largest variance (0.25), so an
all-zero error rate on a few requests is not taken as certainty.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

BOUNDED_VARIANCE = 0.25  # the largest variance of a figure in [0, 1]
PLANNED_N = 500  # the sample size the mixture is tuned to be tightest at (ρ)


@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations of one side's values of one figure."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, values: Iterable[float]) -> Moments:
        out = cls()
        for value in values:
            out = out.add(value)
        return out

    def add(self, value: float) -> Moments:
        """Welford's update: one more value."""
        n = self.n + 1
        delta = value - self.mean
        mean = self.mean + delta / n
        return Moments(n, mean, self.m2 + delta * (value - mean))

    def merge(self, other: Moments) -> Moments:
        """Both sets of values together (Chan et al.'s parallel update)."""
        n = self.n + other.n
        if n == 0:
            return self
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        return Moments(n, mean, self.m2 + other.m2 + delta * delta * self.n * other.n / n)

    def variance(self, bounded: bool) -> float:
        if bounded:
            return (self.m2 + BOUNDED_VARIANCE) / (self.n + 1)
        return self.m2 / self.n if self.n else 0.0


def radius(moments: Moments, level: float, bounded: bool, planned: int = PLANNED_N) -> float:
    """Half-width of the side's confidence sequence at error ``level``, at its current count."""
    n = moments.n
    if n == 0:
        return math.inf
    log_a = -2 * math.log(level)
    rho2 = (log_a + math.log(log_a + 1)) / planned
    width = 2 * (n * rho2 + 1) / (n * n * rho2) * math.log(math.sqrt(n * rho2 + 1) / level)
    return math.sqrt(moments.variance(bounded)) * math.sqrt(width)


@dataclass(frozen=True)
class Interval:
    """One guard at one look: both sides' means and the interval of the difference, turned so
    that positive means the challenger is better."""

    metric: str
    margin: float
    challenger: Moments
    champion: Moments
    lower: float
    upper: float
    lower_is_better: bool

    @property
    def difference(self) -> float:
        d = self.challenger.mean - self.champion.mean
        return -d if self.lower_is_better else d

    @property
    def worse(self) -> bool:
        """Shown worse than the champion by more than the margin."""
        return self.upper < -self.margin

    @property
    def no_worse(self) -> bool:
        """Shown no worse than the champion by more than the margin."""
        return self.lower > -self.margin


def interval(
    metric: str,
    margin: float,
    challenger: Moments,
    champion: Moments,
    *,
    level: float,
    lower_is_better: bool,
    bounded: bool,
) -> Interval:
    rc, rp = radius(challenger, level, bounded), radius(champion, level, bounded)
    lo = (challenger.mean - rc) - (champion.mean + rp)
    hi = (challenger.mean + rc) - (champion.mean - rp)
    if lower_is_better:
        lo, hi = -hi, -lo
    return Interval(metric, margin, challenger, champion, lo, hi, lower_is_better)


@dataclass(frozen=True)
class Guard:
    metric: str
    margin: float
    lower_is_better: bool
    bounded: bool


@dataclass(frozen=True)
class Decision:
    action: str  # advance | complete | hold | rollback
    reason: str
    intervals: tuple[Interval, ...] = ()


def decide(
    guards: Sequence[Guard],
    challenger: Mapping[str, Moments],
    champion: Mapping[str, Moments],
    *,
    alpha: float,
    min_requests: int,
    held: bool,
    last_step: bool,
) -> Decision:
    """The decision at one look. ``held``: the step's least time has passed; ``last_step``:
    advancing now would end the rollout (the challenger takes all traffic), which needs every
    guard shown no worse; an earlier step advances on time and counts alone."""
    level = alpha / (2 * len(guards))
    intervals = tuple(
        interval(
            g.metric,
            g.margin,
            challenger.get(g.metric, Moments()),
            champion.get(g.metric, Moments()),
            level=level,
            lower_is_better=g.lower_is_better,
            bounded=g.bounded,
        )
        for g in guards
    )
    ready = [i for i in intervals if min(i.challenger.n, i.champion.n) >= min_requests]
    worse = [i for i in ready if i.worse]
    if worse:
        why = "; ".join(f"{i.metric} worse by {-i.upper:.4g} at least" for i in worse)
        return Decision("rollback", why, intervals)
    short = [i for i in intervals if i not in ready]
    if short:
        counts = ", ".join(f"{i.metric} {i.challenger.n}/{i.champion.n}" for i in short)
        return Decision("hold", f"fewer than {min_requests} requests a side ({counts})", intervals)
    if not held:
        return Decision("hold", "the step's least time has not passed", intervals)
    if not last_step:
        return Decision("advance", "held its time with no guard worse", intervals)
    unproven = [i for i in intervals if not i.no_worse]
    if unproven:
        why = "; ".join(f"{i.metric} not yet shown within {i.margin:g}" for i in unproven)
        return Decision("hold", why, intervals)
    return Decision("complete", "every guard shown no worse than the champion", intervals)
