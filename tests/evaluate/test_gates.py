"""Gate statistics: bootstrap intervals, confidence bounds, minimum examples, slices and the
paired comparison with a champion."""

from __future__ import annotations

import math
import random

import pytest

from llmspec.kinds.evaluate.gates import Scores, check, table
from llmspec.kinds.evaluate.stats import bootstrap, paired_difference, percentile


def scores(values: list[float], slices: list[str] | None = None, metric: str = "rouge_l") -> Scores:
    ids = [f"golden:{i}" for i in range(len(values))]
    return Scores(
        {metric: dict(zip(ids, values, strict=True))},
        {i: {"product": s} for i, s in zip(ids, slices or [], strict=False)},
    )


def test_percentile_matches_linear_interpolation() -> None:
    assert percentile(50)([1, 2, 3, 4]) == 2.5
    assert percentile(95)(list(range(101))) == 95
    assert math.isnan(percentile(50)([]))


def test_the_interval_covers_the_mean_and_narrows_with_more_examples() -> None:
    rng = random.Random(1)
    few = [rng.random() for _ in range(20)]
    many = [rng.random() for _ in range(400)]
    a, b = bootstrap(few, seed=3), bootstrap(many, seed=3)
    assert a.low < a.value < a.high and b.low < b.value < b.high
    assert (b.high - b.low) < (a.high - a.low) / 2  # ~1/sqrt(n)
    assert bootstrap(few, seed=3) == a  # seeded: the same interval every time


def test_a_threshold_on_the_point_or_on_the_lower_bound() -> None:
    values = [0.5, 0.1, 0.9, 0.4, 0.3, 0.6]  # mean 0.467, a wide interval
    point = check({"metric": "rouge_l", "op": ">=", "value": 0.4}, scores(values), None)
    assert point.passed and point.value == pytest.approx(sum(values) / 6)
    bound = {"metric": "rouge_l", "op": ">=", "value": 0.4, "bound": "ci"}
    strict = check(bound, scores(values), None)
    assert not strict.passed and strict.value is not None and strict.value < 0.4
    assert "lower confidence bound" in strict.note
    upper = check(
        {"metric": "rouge_l", "op": "<=", "value": 0.5, "bound": "ci"}, scores(values), None
    )
    assert "upper confidence bound" in upper.note and not upper.passed


def test_too_few_examples_fail_the_gate() -> None:
    result = check(
        {"metric": "rouge_l", "op": ">=", "value": 0.1, "min_examples": 5}, scores([1.0, 1.0]), None
    )
    assert not result.passed and "2 example(s), fewer than 5" in result.note


def test_every_slice_must_hold() -> None:
    values = [0.9, 0.8, 0.9, 0.1, 0.2]
    slices = ["billing", "billing", "billing", "console", "console"]
    gate = {"metric": "rouge_l", "op": ">=", "value": 0.5, "slice_by": "product"}
    result = check(gate, scores(values, slices), None)
    assert not result.passed and "slice 'console'" in result.note
    assert check({**gate, "value": 0.1}, scores(values, slices), None).passed


def test_latency_gates_use_the_percentile() -> None:
    latencies = [float(v) for v in range(1, 101)]
    gate = {"metric": "latency_p95_ms", "op": "<=", "value": 96}
    result = check(gate, scores(latencies, metric="latency_p95_ms"), None)
    assert result.value == pytest.approx(95.05) and result.passed


def test_compare_with_the_champion_uses_the_paired_difference() -> None:
    champion = scores([0.6, 0.4, 0.8, 0.5, 0.7])
    worse = scores([0.55, 0.35, 0.75, 0.45, 0.65])  # 0.05 lower on every example
    gate = {"metric": "rouge_l", "compare": "champion", "max_regression": 0.02}
    result = check(gate, worse, champion)
    assert not result.passed and result.value == pytest.approx(-0.05)
    assert "5 shared examples" in result.note
    assert check({**gate, "max_regression": 0.1}, worse, champion).passed
    first = check(gate, worse, None)
    assert first.passed and "points at no version yet" in first.note


def test_the_paired_difference_sees_what_unpaired_means_hide() -> None:
    """Examples vary a lot, the difference is small and consistent: pairing makes the
    interval narrow enough to tell."""
    rng = random.Random(0)
    base = [rng.random() for _ in range(50)]
    better = {f"e{i}": v + 0.02 for i, v in enumerate(base)}
    old = {f"e{i}": v for i, v in enumerate(base)}
    diff = paired_difference(better, old)
    assert diff.low == pytest.approx(0.02) and diff.high == pytest.approx(0.02)
    unpaired = bootstrap(list(better.values()))
    assert unpaired.high - unpaired.low > 0.1


def test_the_table_shows_every_gate() -> None:
    results = [
        check({"metric": "rouge_l", "op": ">=", "value": 0.3}, scores([0.5, 0.6]), None),
        check({"metric": "rouge_l", "op": ">=", "value": 0.9}, scores([0.5, 0.6]), None),
    ]
    text = table(results)
    assert text.splitlines()[0].split() == ["gate", "value", "threshold", "result"]
    assert "rouge_l >= 0.3" in text and "pass" in text and "FAIL" in text


def sampled(per_example: list[list[float]]) -> Scores:
    ids = [f"golden:{i}" for i in range(len(per_example))]
    return Scores(
        {"rouge_l": {i: sum(v) / len(v) for i, v in zip(ids, per_example, strict=True)}},
        {},
        {"rouge_l": dict(zip(ids, per_example, strict=True))},
    )


def test_a_pass_rate_over_repeated_samples() -> None:
    # two of three samples hold on every example: a pass rate of 2/3 each
    drawn = sampled([[0.5, 0.1, 0.6], [0.4, 0.9, 0.0], [0.0, 0.35, 0.8]] * 4)
    gate = {"metric": "rouge_l", "op": ">=", "value": 0.3, "repeats": 3, "pass_rate": 0.6}
    result = check(gate, drawn, None)
    assert result.passed and result.value == pytest.approx(2 / 3)
    assert (
        result.gate == "rouge_l >= 0.3, pass rate over 3 samples" and result.threshold == ">= 0.6"
    )
    assert not check({**gate, "pass_rate": 0.7}, drawn, None).passed
    assert not check({**gate, "pass_rate": None}, drawn, None).passed  # default: every sample
    # the mean of each example's samples clears 0.3 (0.4, 0.43, 0.38): a plain gate passes
    assert check({"metric": "rouge_l", "op": ">=", "value": 0.3}, drawn, None).passed


def test_a_pass_rate_reads_only_the_gates_own_number_of_samples() -> None:
    drawn = sampled([[0.5, 0.5, 0.0, 0.0]] * 5)
    gate = {"metric": "rouge_l", "op": ">=", "value": 0.3, "repeats": 2, "pass_rate": 1.0}
    assert check(gate, drawn, None).passed
    assert not check({**gate, "repeats": 4}, drawn, None).passed
