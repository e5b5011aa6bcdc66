"""`llmspec monitor SPEC -e ENV [--since 1h] [--format text|json|markdown]`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from llmspec.cli.common import (
    Done,
    Status,
    spec_command,
)

if TYPE_CHECKING:
    from llmspec.operate.monitor import MonitorReport


HELP = "figures of the served app's traces and feedback, and its alerts held like gates"
EXAMPLES = """examples:
  llmspec monitor specs/app.yaml -e prod --since 24h
  llmspec monitor specs/app.yaml -e prod --format json > monitor.json
  llmspec monitor specs/app.yaml -e prod --since 7d --html monitor.html

The figures cover --since; each alert of `serving.monitoring.alerts` is held over its own
`window`. Exit 1 when an alert fires (for a scheduler). An alert with `action: retrain` that
fires marks the app's fine-tune for retraining: the next plan rebuilds it."""


def add_parser(sub: Any, name: str) -> None:
    parser = spec_command(sub, name, HELP, EXAMPLES)
    parser.add_argument("--since", default="1h", help="window: 30m, 1h, 7d (default 1h)")
    parser.add_argument(
        "--format", choices=("text", "json", "markdown"), default="text", help="output"
    )
    parser.add_argument(
        "--html", metavar="FILE", help="also write a static report with charts to FILE"
    )


def run(args: argparse.Namespace) -> Done:
    from llmspec import api

    report = api.monitor(
        args.spec, args.env, args.overrides, since=args.since, html=args.html, state=args.state
    )
    if args.format == "json":
        print(
            json.dumps(
                {
                    "app": report.app,
                    "env": report.env,
                    "since": report.since,
                    "figures": report.figures,
                    "alerts": [a.__dict__ for a in report.alerts],
                    "marked_for_retraining": report.marked,
                    "versions": report.versions,
                    "judged": report.judged,
                },
                indent=2,
            )
        )
    else:
        print(_table(report, args.format == "markdown"))
        for address in report.marked:
            print(f"\nMarked {address} for retraining: the next plan rebuilds it.")
    if args.html:
        print(f"Report written to {args.html}", file=sys.stderr)
    return Done(Status.FAILED if report.firing else Status.OK, report.notes)


# what the per-version table shows, beside each online judge's mean score
VERSION_FIGURES = ("request_count", "error_rate", "latency_p95_ms", "feedback_positive_rate")


def _table(report: MonitorReport, markdown: bool) -> str:
    app, env, since = report.app, report.env, report.since
    rows = [(name, f"{value:.4g}") for name, value in report.figures.items()]
    alert_rows = [
        (
            f"{a.alert} over {a.window}",
            "—" if a.value is None else f"{a.value:.4g}",
            ("ok" if a.passed else "FIRING") + (" (retrain)" if a.action == "retrain" else ""),
        )
        for a in report.alerts
    ]
    versions = list(report.versions)
    names = [n for n in VERSION_FIGURES if any(n in f for f in report.versions.values())]
    names += sorted(
        {n for f in report.versions.values() for n in f if n.startswith("judge.")} - set(names)
    )

    def cell(version: str, name: str) -> str:
        value = report.versions[version].get(name)
        return "—" if value is None else f"{value:.4g}"

    if markdown:
        lines = [f"### {app} in {env}, last {since}", "", "| figure | value |", "|---|---|"]
        lines += [f"| {n} | {v} |" for n, v in rows]
        if alert_rows:
            lines += ["", "| alert | value | state |", "|---|---|---|"]
            lines += [f"| {a} | {v} | {s} |" for a, v, s in alert_rows]
        if len(versions) > 1:
            lines += ["", "| figure | " + " | ".join(versions) + " |"]
            lines += ["|---|" + "---|" * len(versions)]
            lines += [f"| {n} | " + " | ".join(cell(v, n) for v in versions) + " |" for n in names]
        return "\n".join(lines)
    width = max([len(n) for n, _ in rows] + [len(a) for a, _, _ in alert_rows] + [6])
    lines = [f"{app} in {env}, last {since}"]
    lines += [f"  {n.ljust(width)}  {v}" for n, v in rows]
    if alert_rows:
        lines += ["alerts"]
        lines += [f"  {a.ljust(width)}  {v:>8}  {s}" for a, v, s in alert_rows]
    if len(versions) > 1 or any(n.startswith("judge.") for n in names):
        lines += ["by model version"]
        lines += ["  " + "".ljust(width) + "".join(f"  {v:>14}" for v in versions)]
        lines += [
            f"  {n.ljust(width)}" + "".join(f"  {cell(v, n):>14}" for v in versions) for n in names
        ]
    return "\n".join(lines)
