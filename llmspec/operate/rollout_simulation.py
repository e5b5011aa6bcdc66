"""Seeded simulations of rollouts: the same decision `llmspec rollout advance` takes
(`operate/sequential.py`), fed with synthetic requests instead of traces. They measure how
often the decision is wrong when the challenger equals the champion (the error the test
controls), and how fast it catches a worse one; the tests and docs/operate.md use them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmspec.operate.sequential import Guard, Moments, decide


@dataclass(frozen=True)
class Side:
    """One side's requests: a judge score that passes with ``quality``, errors at
    ``error_rate``, log-normal latency around ``latency_ms``."""

    quality: float = 0.7
    error_rate: float = 0.02
    latency_ms: float = 400.0


GUARDS = (
    Guard("helpfulness", 0.0, lower_is_better=False, bounded=True),
    Guard("error_rate", 0.0, lower_is_better=True, bounded=True),
    Guard("latency_ms", 0.0, lower_is_better=True, bounded=False),
)


@dataclass(frozen=True)
class Outcome:
    action: str  # complete | rollback | undecided
    step: int  # the traffic share (percent) when it ended
    requests: int


def _batch(rng: Any, side: Side, n: int) -> dict[str, Moments]:
    def moments(values: Any) -> Moments:
        if n == 0:
            return Moments()
        mean = float(values.mean())
        return Moments(n, mean, float(((values - mean) ** 2).sum()))

    return {
        "helpfulness": moments((rng.random(n) < side.quality).astype(float)),
        "error_rate": moments((rng.random(n) < side.error_rate).astype(float)),
        "latency_ms": moments(side.latency_ms * rng.lognormal(0.0, 0.5, n)),
    }


def simulate(
    seed: int,
    challenger: Side,
    champion: Side,
    *,
    steps: Sequence[int] = (5, 25, 50, 100),
    hold_requests: int = 1000,
    min_requests: int = 30,
    alpha: float = 0.05,
    look_every: int = 100,
    max_requests: int = 20_000,
    guards: Sequence[Guard] = GUARDS,
) -> Outcome:
    """One rollout: requests arrive in batches of ``look_every``, split by the step's share; a
    look after each batch; a step holds ``hold_requests`` requests (its least time)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ours: dict[str, Moments] = {g.metric: Moments() for g in guards}
    theirs: dict[str, Moments] = {g.metric: Moments() for g in guards}
    index, at_step, total = 0, 0, 0
    while total < max_requests:
        share = steps[index] / 100
        to_challenger = int(rng.binomial(look_every, share))
        for side, into, n in (
            (challenger, ours, to_challenger),
            (champion, theirs, look_every - to_challenger),
        ):
            for metric, batch in _batch(rng, side, n).items():
                if metric in into:
                    into[metric] = into[metric].merge(batch)
        total += look_every
        at_step += look_every
        decision = decide(
            guards,
            ours,
            theirs,
            alpha=alpha,
            min_requests=min_requests,
            held=at_step >= hold_requests,
            last_step=steps[index + 1] == 100 if index + 1 < len(steps) else True,
        )
        if decision.action == "rollback":
            return Outcome("rollback", steps[index], total)
        if decision.action == "complete":
            return Outcome("complete", steps[index], total)
        if decision.action == "advance":
            index, at_step = index + 1, 0
    return Outcome("undecided", steps[index], total)


def rates(outcomes: Sequence[Outcome]) -> Mapping[str, float]:
    """Share of each ending over the simulated rollouts."""
    out = {"complete": 0.0, "rollback": 0.0, "undecided": 0.0}
    for outcome in outcomes:
        out[outcome.action] += 1 / len(outcomes)
    return out
