"""The bootstrap intervals are scipy's BCa, seeded; a 95% interval covers the true mean of a
skewed score distribution in at least 94% of 1,000 seeded trials."""

from __future__ import annotations

import random

from llmspec.kinds.evaluate.stats import bootstrap, mean, percentile


def test_a_95_percent_interval_covers_the_mean_in_at_least_94_percent_of_trials() -> None:
    rng = random.Random(1)
    true_mean = 2 / (2 + 3)  # beta(2, 3): scores in [0, 1], skewed like a metric's
    covered = 0
    for trial in range(1000):
        scores = [rng.betavariate(2, 3) for _ in range(200)]
        found = bootstrap(scores, seed=trial)
        covered += found.low <= true_mean <= found.high
    assert covered / 1000 >= 0.94, covered


def test_intervals_are_seeded_and_degenerate_samples_are_points() -> None:
    scores = [0.1, 0.4, 0.4, 0.9, 0.5, 0.7, 0.2]
    assert bootstrap(scores, seed=5) == bootstrap(scores, seed=5)
    assert bootstrap([0.3] * 9) == bootstrap([0.3] * 9, mean) and bootstrap([0.3] * 9).low == 0.3
    p95 = bootstrap([float(v) for v in range(100)], percentile(95))
    assert p95.value == percentile(95)([float(v) for v in range(100)])
    assert p95.low <= p95.value <= p95.high
    two = bootstrap([0.0, 1.0])  # too few distinct values for BCa: the percentile interval
    assert 0.0 <= two.low <= two.high <= 1.0
