"""Aggregates of per-example scores and their bootstrap confidence intervals.

Intervals are scipy's (`scipy.stats.bootstrap`, bias-corrected and accelerated), seeded: the same
scores give the same intervals on every machine. The aggregates themselves are plain Python, so
the modules that only compare figures (monitor, gates) import no numerical library.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Aggregate = Callable[[Sequence[float]], float]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


class percentile:
    """The q-th percentile (0–100) with linear interpolation, as numpy's default."""

    def __init__(self, q: float) -> None:
        self.q = q

    def __call__(self, values: Sequence[float]) -> float:
        if not values:
            return math.nan
        ordered = sorted(values)
        rank = (len(ordered) - 1) * self.q / 100
        low, high = math.floor(rank), math.ceil(rank)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


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
    """The aggregate and its BCa bootstrap interval (``samples`` resamples of the examples);
    the percentile interval where BCa cannot be computed (too few distinct values), and a
    point when every value is the same."""
    n = len(values)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    point = aggregate(values)
    if min(values) == max(values):
        return Estimate(point, point, point, n)
    import warnings

    import numpy as np
    from scipy import stats  # type: ignore[import-untyped]

    data = (np.asarray(values, dtype=float),)
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():  # a degenerate BCa is answered by the fallback
            warnings.simplefilter("ignore")
            found = stats.bootstrap(
                data,
                _vectorized(aggregate),
                vectorized=True,
                n_resamples=samples,
                confidence_level=confidence,
                method=method,
                random_state=np.random.default_rng(seed),
            )
        low, high = (float(b) for b in found.confidence_interval)
        if math.isfinite(low) and math.isfinite(high):
            return Estimate(point, low, high, n)
    return Estimate(point, point, point, n)


def _vectorized(aggregate: Aggregate) -> Any:
    import numpy as np

    if aggregate is mean:
        return np.mean
    if isinstance(aggregate, percentile):
        q = aggregate.q
        return lambda x, axis: np.percentile(x, q, axis=axis)
    return lambda x, axis: np.apply_along_axis(lambda row: aggregate(list(row)), axis, x)


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
