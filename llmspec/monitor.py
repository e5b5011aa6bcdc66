"""`llmspec monitor`: the served app's traces and feedback over a window, as figures, and the
spec's alerts held against them like gates.

Figures: request count, error rate, latency p50/p95/p99 (the trace's duration), feedback count
and positive rate, prompt and answer length (tokens), input drift against the eval set, and a
cost estimate from the card's per-1k-token price.

Input drift is the population stability index (PSI) of the questions' length in words: the eval
questions' deciles make the bins, and PSI = Σ (served_i − eval_i) · ln(served_i / eval_i) over
the bins' shares (each at least 0.001). Under 0.1 is usually read as no shift, over 0.25 as a
large one. It is cheap and needs no model; it sees a change in what people ask only when the
asking changes shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmspec.evaluate.gates import OPS
from llmspec.evaluate.stats import percentile


@dataclass(frozen=True)
class Request:
    """One traced request, as monitoring reads it."""

    ok: bool
    latency_ms: float
    question: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    ratings: tuple[bool, ...] = ()


@dataclass
class Figures:
    values: dict[str, float] = field(default_factory=dict)

    def __getitem__(self, name: str) -> float:
        return self.values.get(name, math.nan)


def figures(
    requests: Sequence[Request], eval_questions: Sequence[str], cost_per_1k: float | None
) -> Figures:
    out: dict[str, float] = {"request_count": float(len(requests))}
    if requests:
        out["error_rate"] = sum(not r.ok for r in requests) / len(requests)
        latencies = [r.latency_ms for r in requests]
        for q in (50, 95, 99):
            out[f"latency_p{q}_ms"] = percentile(q)(latencies)
        answered = [r for r in requests if r.ok]
        if answered:
            out["tokens_in_mean"] = sum(r.tokens_in for r in answered) / len(answered)
            out["tokens_out_mean"] = sum(r.tokens_out for r in answered) / len(answered)
            out["tokens_out_p95"] = percentile(95)([float(r.tokens_out) for r in answered])
        if cost_per_1k is not None:
            tokens = sum(r.tokens_in + r.tokens_out for r in requests)
            out["cost_usd"] = tokens / 1000 * cost_per_1k
        questions = [r.question for r in requests if r.question]
        if questions and eval_questions:
            out["input_drift"] = length_psi(eval_questions, questions)
    ratings = [v for r in requests for v in r.ratings]
    out["feedback_count"] = float(len(ratings))
    if ratings:
        out["feedback_positive_rate"] = sum(ratings) / len(ratings)
    return Figures(out)


def length_psi(reference: Sequence[str], served: Sequence[str], bins: int = 10) -> float:
    """PSI of question length in words, on the reference's quantile bins."""
    ref = sorted(len(q.split()) for q in reference)
    edges = sorted({ref[min(len(ref) - 1, (len(ref) * i) // bins)] for i in range(1, bins)})

    def shares(lengths: Sequence[int]) -> list[float]:
        counts = [0] * (len(edges) + 1)
        for n in lengths:
            counts[sum(n >= e for e in edges)] += 1
        return [max(c / len(lengths), 0.001) for c in counts]

    p = shares(ref)
    q = shares([len(s.split()) for s in served])
    return sum((b - a) * math.log(b / a) for a, b in zip(p, q, strict=True))


@dataclass(frozen=True)
class AlertResult:
    alert: str
    value: float | None
    passed: bool
    action: str


def check_alerts(alerts: Sequence[Mapping[str, Any]], found: Figures) -> list[AlertResult]:
    """Each alert's condition must hold; a figure with no data (no requests, no feedback) is
    reported and does not fire."""
    out = []
    for alert in alerts:
        value = found[alert["metric"]]
        label = f"{alert['metric']} {alert['op']} {float(alert['value']):g}"
        if math.isnan(value):
            out.append(AlertResult(label, None, True, str(alert.get("action", "notify"))))
            continue
        held = OPS[alert["op"]](value, float(alert["value"]))
        out.append(AlertResult(label, value, held, str(alert.get("action", "notify"))))
    return out


def from_trace(trace: Any) -> Request:
    """A Request from an MLflow trace the server logged (`runtime/tracing.py`)."""
    info, spans = trace.info, trace.data.spans
    root = next((s for s in spans if s.parent_id is None), None)
    outputs = (root.outputs if root is not None else None) or {}
    inputs = (root.inputs if root is not None else None) or {}
    ratings = tuple(
        bool(a.value)
        for a in (info.assessments or [])
        if a.name == "user_rating" and isinstance(a.value, bool)
    )
    state = str(getattr(info.state, "value", info.state))
    return Request(
        ok=state == "OK",
        latency_ms=float(info.execution_duration or 0),
        question=str(next(iter(inputs.values()), "")) if isinstance(inputs, Mapping) else "",
        tokens_in=int(outputs.get("tokens_in") or 0) if isinstance(outputs, Mapping) else 0,
        tokens_out=int(outputs.get("tokens_out") or 0) if isinstance(outputs, Mapping) else 0,
        ratings=ratings,
    )
