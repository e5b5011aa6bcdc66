"""Aggregates of per-example scores and their bootstrap confidence intervals.

Pure Python and seeded: the same scores give the same intervals on every machine.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

Aggregate = Callable[[Sequence[float]], float]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def percentile(q: float) -> Aggregate:
    """The q-th percentile (0–100) with linear interpolation, as numpy's default."""

    def at(values: Sequence[float]) -> float:
        if not values:
            return math.nan
        ordered = sorted(values)
        rank = (len(ordered) - 1) * q / 100
        low, high = math.floor(rank), math.ceil(rank)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)

    return at


def aggregate_of(metric: str) -> Aggregate:
    """How a metric's per-example values combine: percentiles for latency, else the mean."""
    if metric.startswith("latency_p") and metric.endswith("_ms"):
        return percentile(float(metric.removeprefix("latency_p").removesuffix("_ms")))
    return mean


def in_order(per_example: Mapping[str, float]) -> list[float]:
    """Scores in example-id order: resampling by position then draws the same examples
    wherever the scores were read from (a fresh evaluation, or a stored one)."""
    return [per_example[k] for k in sorted(per_example)]


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    n: int


def bootstrap(
    values: Sequence[float],
    aggregate: Aggregate = mean,
    *,
    confidence: float = 0.95,
    samples: int = 1000,
    seed: int = 0,
) -> Estimate:
    """The aggregate and its percentile-bootstrap interval: resample the examples with
    replacement ``samples`` times."""
    n = len(values)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    point = aggregate(values)
    rng = random.Random(seed)
    stats = sorted(aggregate([values[rng.randrange(n)] for _ in range(n)]) for _ in range(samples))
    tail = (1 - confidence) / 2
    low = percentile(100 * tail)(stats)
    high = percentile(100 * (1 - tail))(stats)
    return Estimate(point, low, high, n)


def paired_difference(
    new: dict[str, float],
    old: dict[str, float],
    *,
    confidence: float = 0.95,
    samples: int = 1000,
    seed: int = 0,
) -> Estimate:
    """Mean of new − old over the examples both scored, with its bootstrap interval: the
    comparison of a challenger with the champion on the same questions."""
    shared = sorted(set(new) & set(old))
    return bootstrap(
        [new[k] - old[k] for k in shared], mean, confidence=confidence, samples=samples, seed=seed
    )
