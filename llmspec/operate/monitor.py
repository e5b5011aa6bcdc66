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
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmspec.core.diagnostics import Diagnostic
from llmspec.kinds.evaluate.gates import OPS
from llmspec.kinds.evaluate.stats import percentile

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Request:
    """One traced request, as monitoring reads it."""

    ok: bool
    latency_ms: float
    question: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    ratings: tuple[bool, ...] = ()
    at_ms: int = 0  # when the request came, epoch milliseconds
    version: str = ""  # `name/N` of the model version that answered
    scores: tuple[tuple[str, float], ...] = ()  # online judges' (metric, score)


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
    judged: dict[str, list[float]] = {}
    for r in requests:
        for metric, score in r.scores:
            judged.setdefault(metric, []).append(score)
    for metric, scores in judged.items():
        out[f"judge.{metric}"] = sum(scores) / len(scores)
        out[f"judge.{metric}.count"] = float(len(scores))
    return Figures(out)


def by_version(
    requests: Sequence[Request], questions: Sequence[str], cost_per_1k: float | None
) -> dict[str, dict[str, float]]:
    """The figures of each model version that answered (online quality side by side)."""
    versions = sorted({r.version for r in requests if r.version})
    return {
        v: figures([r for r in requests if r.version == v], questions, cost_per_1k).values
        for v in versions
    }


def length_psi(reference: Sequence[str], served: Sequence[str], bins: int = 10) -> float:
    """PSI of question length in words, on the reference's quantile bins."""
    _, p, q = length_shares(reference, served, bins)
    return sum((b - a) * math.log(b / a) for a, b in zip(p, q, strict=True))


def length_shares(
    reference: Sequence[str], served: Sequence[str], bins: int = 10
) -> tuple[list[str], list[float], list[float]]:
    """The bins (labels in words) of the reference's length deciles, and each side's share of
    questions in them (at least 0.001, so that PSI stays finite)."""
    ref = sorted(len(q.split()) for q in reference)
    edges = sorted({ref[min(len(ref) - 1, (len(ref) * i) // bins)] for i in range(1, bins)})

    def shares(lengths: Sequence[int]) -> list[float]:
        counts = [0] * (len(edges) + 1)
        for n in lengths:
            counts[sum(n >= e for e in edges)] += 1
        return [max(c / len(lengths), 0.001) for c in counts]

    bounds = [0, *edges]
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(bounds, edges, strict=False)]
    labels.append(f"{bounds[-1]}+")
    return labels, shares(ref), shares([len(s.split()) for s in served])


@dataclass(frozen=True)
class AlertResult:
    alert: str
    value: float | None
    passed: bool
    action: str
    window: str = ""


def check_alerts(
    alerts: Sequence[Mapping[str, Any]], found: Mapping[str, Figures]
) -> list[AlertResult]:
    """Each alert's condition must hold over its own window (``found`` holds the figures of
    each window); a figure with no data (no requests, no feedback) is reported and does not
    fire."""
    out = []
    for alert in alerts:
        window = str(alert.get("window", "1h"))
        value = found[window][alert["metric"]]
        label = f"{alert['metric']} {alert['op']} {float(alert['value']):g}"
        action = str(alert.get("action", "notify"))
        if math.isnan(value):
            out.append(AlertResult(label, None, True, action, window))
            continue
        held = OPS[alert["op"]](value, float(alert["value"]))
        out.append(AlertResult(label, value, held, action, window))
    return out


def window_ms(window: str) -> int:
    """The length of a window like `30m`, `1h` or `7d` in milliseconds (LS840 if unclear)."""
    from llmspec.core.diagnostics import SpecError, error

    match = re.fullmatch(r"([0-9]+)([smhd])", window)
    if match is None:
        raise SpecError(
            [
                error(
                    "LS840",
                    f"`{window}` is not a window",
                    hint="a number and a unit: s, m, h or d (30m, 1h, 7d)",
                )
            ]
        )
    return int(match.group(1)) * UNITS[match.group(2)] * 1000


def since(requests: Sequence[Request], start_ms: int) -> list[Request]:
    return [r for r in requests if r.at_ms >= start_ms]


def from_trace(trace: Any, judges: Sequence[str] = ()) -> Request:
    """A Request from an MLflow trace the server logged (`runtime/tracing.py`), with the
    scores the online ``judges`` wrote on it."""
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
    latest = {  # one score per judge and trace: the latest
        a.name: float(a.value)
        for a in (info.assessments or [])
        if a.name in judges
        and a.feedback is not None
        and isinstance(a.value, int | float)
        and not isinstance(a.value, bool)
    }
    scores = tuple(latest.items())
    return Request(
        ok=state == "OK",
        latency_ms=float(info.execution_duration or 0),
        question=str(next(iter(inputs.values()), "")) if isinstance(inputs, Mapping) else "",
        tokens_in=int(outputs.get("tokens_in") or 0) if isinstance(outputs, Mapping) else 0,
        tokens_out=int(outputs.get("tokens_out") or 0) if isinstance(outputs, Mapping) else 0,
        ratings=ratings,
        at_ms=int(info.timestamp_ms or 0),
        version=str((info.tags or {}).get("llmspec.model_version", "")),
        scores=scores,
    )


@dataclass(frozen=True)
class MonitorReport:
    """What `llmspec monitor` found over a window: the figures, each alert over its own window,
    the fine-tunes a fired retrain alert marked, and notes (a mark that could not be made)."""

    app: str
    env: str
    since: str
    figures: dict[str, float]
    alerts: list[AlertResult]
    marked: list[str]
    notes: list[Diagnostic] = field(default_factory=list)  # a mark that could not be made
    versions: dict[str, dict[str, float]] = field(default_factory=dict)  # figures per version
    judged: dict[str, int] = field(default_factory=dict)  # metric -> traces scored this run

    @property
    def firing(self) -> bool:
        return any(not a.passed for a in self.alerts)


def monitor(ws: Any, since_window: str = "24h", html: str | None = None) -> MonitorReport:
    """Read the environment's traces, compute the figures, hold the alerts; a `retrain` alert
    that fires marks the fine-tune for the next plan; with ``html``, write the report there."""
    import time

    from llmspec.engine.marks import last_rebuilt_ms
    from llmspec.operate.traffic import served_traces

    spec = ws.resolved.spec
    now_ms = int(time.time() * 1000)
    since_ms = now_ms - window_ms(since_window)
    alert_specs = [a.model_dump(mode="json") for a in spec.serving.monitoring.alerts]
    starts = {a["window"]: now_ms - window_ms(a["window"]) for a in alert_specs}
    traces = served_traces(ws, min([since_ms, *starts.values()]))
    judged = _judge(ws, traces)
    if judged:  # read again, with the scores just written
        traces = served_traces(ws, min([since_ms, *starts.values()]))
    judges = [j.metric for j in spec.serving.monitoring.judges]
    requests = sorted((from_trace(t, judges) for t in traces), key=lambda r: r.at_ms)
    card = spec.metadata.card
    cost = card.cost.per_1k_tokens_usd if card is not None and card.cost is not None else None
    questions = eval_questions(ws.resolved)
    shown = since(requests, since_ms)
    found = figures(shown, questions, cost)
    rebuilt = last_rebuilt_ms(ws)
    alerts: list[AlertResult] = []
    for alert in alert_specs:
        # a retrain alert is judged on the current fine-tune's traffic only: the old model's
        # ratings would otherwise mark it again right after retraining
        start = starts[alert["window"]]
        start = max(start, rebuilt) if alert["action"] == "retrain" else start
        alerts += check_alerts([alert], {alert["window"]: figures(since(requests, start),
                                                                   questions, cost)})  # fmt: skip
    notes: list[Diagnostic] = []
    marked = _mark_for_retraining(ws, [a for a in alerts if not a.passed and a.action == "retrain"],
                                  notes)  # fmt: skip
    versions = by_version(shown, questions, cost)
    report = MonitorReport(
        ws.app, ws.env, since_window, found.values, alerts, marked, notes, versions, judged
    )
    if report.firing:
        from llmspec.operate.notify import alert_events, notify

        for event in alert_events(report):
            notes += notify(ws, event)
    if html:
        from llmspec.core.diagnostics import SpecError, error
        from llmspec.operate.monitor_report import write_report

        try:
            write_report(html, ws.app, ws.env, since_window, shown, questions, found.values,
                         alerts, marked)  # fmt: skip
        except OSError as exc:
            raise SpecError([error("LS841", f"cannot write the report `{html}`: {exc}",
                                   hint="choose a folder you can write to")]) from None  # fmt: skip
    return report


def _judge(ws: Any, traces: Sequence[Any]) -> dict[str, int]:
    """Run the online judges on the window's traces they have not scored yet."""
    if not ws.resolved.spec.serving.monitoring.judges:
        return {}
    from llmspec.kinds.promote.promoted import promoted_model
    from llmspec.operate.online_judges import judge_traces

    return judge_traces(ws, traces, promoted_model(ws).tracking_uri).scored


def window_start_ms(window: str) -> int:
    """When a window like `30m`, `1h` or `7d` that ends now began, in epoch milliseconds."""
    import time

    return int(time.time() * 1000) - window_ms(window)


def eval_questions(resolved: Any) -> list[str]:
    """The eval sets' questions: the reference the served questions' drift is measured from."""
    import json

    evaluation = resolved.spec.evaluation
    if evaluation is None:
        return []
    out = []
    for dataset in evaluation.datasets.values():
        path = resolved.path.parent / dataset.path
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    out.append(str(json.loads(line).get(dataset.question_field, "")))
    return out


def _mark_for_retraining(ws: Any, fired: list[AlertResult], notes: list[Diagnostic]) -> list[str]:
    """Mark the fine-tune when a `retrain` alert fired; a note when that cannot be done."""
    if not fired:
        return []
    from llmspec.core.diagnostics import Severity, SpecError
    from llmspec.engine.marks import finetune_addresses, mark

    if not finetune_addresses(ws):
        message = f"`{fired[0].alert}` asks to retrain, but {ws.app} in {ws.env} has no fine-tune"
        notes.append(Diagnostic("LS462", message, severity=Severity.NOTE))
        return []
    why = "; ".join(f"{a.alert} failed over {a.window} ({a.value:.4g})" for a in fired)
    try:
        return mark(ws, why)
    except SpecError as exc:
        if exc.diagnostics[0].code != "LS603":
            raise
        held = exc.diagnostics[0].message  # an apply holds the lock: the next run marks it
        message = f"could not mark the fine-tune for retraining: {held}; the next monitor run will"
        notes.append(Diagnostic("LS603", message, severity=Severity.NOTE))
        return []
