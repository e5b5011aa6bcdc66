"""`llmspec monitor --html FILE`: the same figures and alerts as a static page with charts, for
people who would rather look than read. Charts are matplotlib SVG inlined in one HTML file, so
the report can be attached to a ticket or published as a CI artifact as it is."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmspec.kinds.evaluate.stats import percentile
from llmspec.operate.monitor import AlertResult, Request, length_shares

BUCKETS = 24


def write_report(
    path: str | os.PathLike[str],
    app: str,
    env: str,
    since: str,
    requests: Sequence[Request],
    eval_questions: Sequence[str],
    values: dict[str, float],
    alerts: Sequence[AlertResult],
    marked: Sequence[str],
) -> None:
    """Render the report and replace ``path`` with it at once (never a half-written page)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from llmspec.core.layout import templates_root

    charts = _charts(requests, eval_questions) if requests else []
    page = Environment(
        loader=FileSystemLoader(templates_root() / "monitor"),
        autoescape=select_autoescape(default=True),
    ).get_template("report.html.j2")
    text = page.render(
        app=app,
        env=env,
        since=since,
        made=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        values=values,
        alerts=alerts,
        marked=marked,
        charts=charts,
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, target)


def _charts(requests: Sequence[Request], eval_questions: Sequence[str]) -> list[dict[str, str]]:
    import matplotlib

    matplotlib.use("Agg")  # no display: render to files only
    import matplotlib.pyplot as plt

    charts = [
        ("Requests over time", "answered and failed requests per interval", _traffic),
        ("Latency", "request duration, with p50, p95 and p99", _latency),
        ("Prompt and answer length", "tokens in and out of answered requests", _lengths),
        ("Feedback over time", "up and down ratings per interval", _feedback),
    ]
    out = []
    for title, caption, draw in charts:
        figure, axes = plt.subplots(figsize=(7, 3))
        try:
            draw(axes, requests)
            out.append({"title": title, "caption": caption, "svg": _svg(figure)})
        finally:
            plt.close(figure)
    questions = [r.question for r in requests if r.question]
    if questions and eval_questions:
        figure, axes = plt.subplots(figsize=(7, 3))
        try:
            _drift(axes, eval_questions, questions)
            out.append(
                {
                    "title": "Question length against the eval set",
                    "caption": "share of questions per length bin (the eval set's deciles); "
                    "input_drift is the PSI of these shares",
                    "svg": _svg(figure),
                }
            )
        finally:
            plt.close(figure)
    return out


def _svg(figure: Any) -> str:
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: drop the XML prologue and doctype


def _buckets(requests: Sequence[Request]) -> tuple[list[datetime], float]:
    first, last = requests[0].at_ms, requests[-1].at_ms
    width = max((last - first) / BUCKETS, 1000.0)
    starts = [datetime.fromtimestamp((first + i * width) / 1000, UTC) for i in range(BUCKETS)]
    return starts, width


def _bucket_of(request: Request, first: int, width: float) -> int:
    return min(int((request.at_ms - first) / width), BUCKETS - 1)


def _traffic(axes: Any, requests: Sequence[Request]) -> None:
    starts, width = _buckets(requests)
    ok, failed = [0] * BUCKETS, [0] * BUCKETS
    for request in requests:
        (ok if request.ok else failed)[_bucket_of(request, requests[0].at_ms, width)] += 1
    bar = width / 1000 / 86400 * 0.9  # matplotlib dates are in days
    axes.bar(starts, ok, width=bar, align="edge", label="answered", color="#4c72b0")
    axes.bar(starts, failed, width=bar, align="edge", bottom=ok, label="failed", color="#c44e52")
    axes.set_ylabel("requests")
    axes.legend(loc="upper left")
    axes.figure.autofmt_xdate()


def _latency(axes: Any, requests: Sequence[Request]) -> None:
    latencies = [r.latency_ms for r in requests]
    axes.hist(latencies, bins=30, color="#4c72b0")
    for q, style in ((50, "-"), (95, "--"), (99, ":")):
        value = percentile(q)(latencies)
        axes.axvline(value, color="#c44e52", linestyle=style, label=f"p{q} {value:.0f} ms")
    axes.set_xlabel("ms")
    axes.set_ylabel("requests")
    axes.legend()


def _lengths(axes: Any, requests: Sequence[Request]) -> None:
    answered = [r for r in requests if r.ok]
    axes.hist([r.tokens_in for r in answered], bins=30, alpha=0.7, label="prompt (tokens in)")
    axes.hist([r.tokens_out for r in answered], bins=30, alpha=0.7, label="answer (tokens out)")
    axes.set_xlabel("tokens")
    axes.set_ylabel("requests")
    axes.legend()


def _feedback(axes: Any, requests: Sequence[Request]) -> None:
    starts, width = _buckets(requests)
    up, down = [0] * BUCKETS, [0] * BUCKETS
    for request in requests:
        bucket = _bucket_of(request, requests[0].at_ms, width)
        for rating in request.ratings:
            (up if rating else down)[bucket] += 1
    bar = width / 1000 / 86400 * 0.9
    axes.bar(starts, up, width=bar, align="edge", label="up", color="#55a868")
    axes.bar(starts, [-d for d in down], width=bar, align="edge", label="down", color="#c44e52")
    axes.axhline(0, color="black", linewidth=0.5)
    axes.set_ylabel("ratings")
    axes.legend(loc="upper left")
    axes.figure.autofmt_xdate()


def _drift(axes: Any, eval_questions: Sequence[str], questions: Sequence[str]) -> None:
    labels, reference, served = length_shares(eval_questions, questions)
    positions = range(len(labels))
    axes.bar([p - 0.2 for p in positions], reference, width=0.4, label="eval set")
    axes.bar([p + 0.2 for p in positions], served, width=0.4, label="served")
    axes.set_xticks(list(positions), labels)
    axes.set_xlabel("question length (words)")
    axes.set_ylabel("share")
    axes.legend()
