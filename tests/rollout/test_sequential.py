"""The rollout's sequential test: its confidence sequences cover, its decisions follow them,
and over 1,000 seeded rollouts where the challenger equals the champion it decides wrongly
(a rollback or a promotion) at most `alpha` of the time, however often it looks."""

from __future__ import annotations

import math
import random

import pytest

from llmspec.operate.rollout_simulation import GUARDS, Side, rates, simulate
from llmspec.operate.sequential import Guard, Moments, decide, radius

pytest.importorskip("numpy")
ALPHA = 0.05


def test_moments_merge_as_if_added_one_by_one() -> None:
    rng = random.Random(3)
    values = [rng.gauss(5, 2) for _ in range(101)]
    whole = Moments.of(values)
    parts = Moments.of(values[:40]).merge(Moments.of(values[40:]))
    assert parts.n == whole.n == 101
    assert parts.mean == pytest.approx(whole.mean) and parts.m2 == pytest.approx(whole.m2)
    mean = sum(values) / len(values)
    assert whole.m2 == pytest.approx(sum((v - mean) ** 2 for v in values))


def test_the_sequence_narrows_and_covers_the_mean_at_every_look() -> None:
    """5% of 400 seeded streams may ever leave their sequence at 2,000 looks; far fewer do."""
    missed = 0
    for seed in range(400):
        rng = random.Random(seed)
        moments, left = Moments(), False
        for _ in range(2000):
            moments = moments.add(rng.gauss(0.0, 1.0))
            if moments.n >= 10 and abs(moments.mean) > radius(moments, ALPHA, bounded=False):
                left = True
                break
        missed += left
    assert missed / 400 <= ALPHA
    m = Moments.of([0.0, 1.0] * 50)
    assert radius(m, ALPHA, True) > radius(m.merge(Moments.of([0.0, 1.0] * 500)), ALPHA, True)


def test_an_all_zero_rate_is_not_certainty_on_a_few_requests() -> None:
    few = Moments.of([0.0] * 5)
    assert radius(few, ALPHA, bounded=True) > 0.1


def _guards(margin: float = 0.0) -> list[Guard]:
    return [Guard("score", margin, lower_is_better=False, bounded=True)]


def test_decide_holds_until_enough_requests_and_time_then_advances() -> None:
    same = {"score": Moments.of([1.0, 0.0] * 20)}
    short = decide(_guards(), same, {"score": Moments.of([1.0] * 5)}, alpha=ALPHA,
                   min_requests=10, held=True, last_step=False)  # fmt: skip
    assert short.action == "hold" and "fewer than 10" in short.reason
    waiting = decide(_guards(), same, same, alpha=ALPHA, min_requests=10, held=False,
                     last_step=False)  # fmt: skip
    assert waiting.action == "hold" and "least time" in waiting.reason
    moving = decide(_guards(), same, same, alpha=ALPHA, min_requests=10, held=True,
                    last_step=False)  # fmt: skip
    assert moving.action == "advance"
    # the last step needs every guard shown no worse: equal sides with margin 0 are not
    last = decide(_guards(), same, same, alpha=ALPHA, min_requests=10, held=True, last_step=True)
    assert last.action == "hold" and "not yet shown" in last.reason
    many = {"score": Moments.of([1.0, 0.0] * 300)}
    lenient = decide(_guards(0.2), many, many, alpha=ALPHA, min_requests=10, held=True,
                     last_step=True)  # fmt: skip
    assert lenient.action == "complete"


def test_decide_rolls_back_a_clearly_worse_challenger_before_its_time() -> None:
    worse = {"score": Moments.of([0.0] * 60)}
    good = {"score": Moments.of([1.0] * 60)}
    decision = decide(_guards(), worse, good, alpha=ALPHA, min_requests=10, held=False,
                      last_step=False)  # fmt: skip
    assert decision.action == "rollback" and "score worse by" in decision.reason
    (i,) = decision.intervals
    assert i.upper < 0 and i.difference == -1.0


def test_lower_is_better_turns_the_difference() -> None:
    slow = {"latency_ms": Moments.of([500.0, 520.0, 480.0] * 20)}
    fast = {"latency_ms": Moments.of([100.0, 120.0, 80.0] * 20)}
    guard = [Guard("latency_ms", 0.0, lower_is_better=True, bounded=False)]
    decision = decide(guard, fast, slow, alpha=ALPHA, min_requests=10, held=True,
                      last_step=True)  # fmt: skip
    assert decision.action == "complete" and decision.intervals[0].difference == 400.0


def test_a_thousand_equal_rollouts_decide_wrongly_at_most_alpha_of_the_time() -> None:
    outcomes = [simulate(seed, Side(), Side(), max_requests=8000) for seed in range(1000)]
    found = rates(outcomes)
    wrong = found["complete"] + found["rollback"]
    print(f"\nequal challenger, 1,000 rollouts, alpha {ALPHA}: {found}")
    assert wrong <= ALPHA


def test_at_the_margin_the_rollout_completes_at_most_alpha_of_the_time() -> None:
    """The hardest case for a non-inferiority margin: the challenger is worse by exactly it."""
    guards = [Guard("helpfulness", 0.05, lower_is_better=False, bounded=True)]
    outcomes = [
        simulate(seed, Side(quality=0.65), Side(quality=0.7), guards=guards, max_requests=8000)
        for seed in range(300)
    ]
    found = rates(outcomes)
    print(f"\nchallenger worse by the margin, 300 rollouts: {found}")
    assert found["complete"] <= ALPHA


def test_a_worse_challenger_is_caught_early_and_a_better_one_completes() -> None:
    worse = [simulate(seed, Side(quality=0.45), Side()) for seed in range(100)]
    assert rates(worse)["rollback"] >= 0.95
    early = sum(o.action == "rollback" and o.step < 50 for o in worse) / len(worse)
    assert early >= 0.9  # before half the traffic saw it
    better = [
        simulate(seed, Side(quality=0.8, error_rate=0.0, latency_ms=300), Side())
        for seed in range(100)
    ]
    found = rates(better)
    print(f"\nworse: {rates(worse)}, {early:.0%} before the 50% step; better: {found}")
    assert found["complete"] >= 0.8 and found["rollback"] == 0.0
    assert math.isclose(sum(found.values()), 1.0)
    assert {g.metric for g in GUARDS} == {"helpfulness", "error_rate", "latency_ms"}
