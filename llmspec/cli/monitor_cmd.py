"""`llmspec monitor SPEC -e ENV [--since 1h] [--format text|json|markdown]`."""

from __future__ import annotations

import argparse
import json
import re
import time
from typing import Any

from llmspec.cli.common import resolve_or_report, spec_command

HELP = "figures of the served app's traces and feedback, and its alerts held like gates"
EXAMPLES = """examples:
  llmspec monitor specs/app.yaml -e prod --since 24h
  llmspec monitor specs/app.yaml -e prod --format json > monitor.json

Exit 1 when an alert of `serving.monitoring.alerts` fails (for a scheduler)."""
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def add_parser(sub: Any, name: str) -> None:
    parser = spec_command(sub, name, HELP, EXAMPLES)
    parser.add_argument("--since", default="1h", help="window: 30m, 1h, 7d (default 1h)")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")


def run(args: argparse.Namespace) -> int:
    from llmspec.monitor import check_alerts, figures, from_trace
    from llmspec.promoted import promoted_model
    from llmspec.tracking import experiment_for, quiet_mlflow
    from llmspec.workspace import open_workspace

    resolved = resolve_or_report(args.spec, args.env, args.overrides)
    if resolved is None:
        return 1
    since_ms = window_start_ms(args.since)
    ws = open_workspace(resolved, args.state)
    promoted = promoted_model(ws)
    quiet_mlflow()
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(promoted.tracking_uri)
    client = MlflowClient(tracking_uri=promoted.tracking_uri)
    experiment = experiment_for(client, resolved.spec, ws.app, ws.env, ws.repo_root)
    traces = mlflow.search_traces(
        experiment_ids=[experiment],
        filter_string=f"timestamp_ms > {since_ms}",
        return_type="list",
        max_results=100_000,
    )
    requests = [from_trace(t) for t in traces]
    spec = resolved.spec
    card = spec.metadata.card
    cost = card.cost.per_1k_tokens_usd if card is not None and card.cost is not None else None
    found = figures(requests, _eval_questions(resolved), cost)
    alerts = check_alerts(
        [a.model_dump(mode="json") for a in spec.serving.monitoring.alerts], found
    )
    if args.format == "json":
        print(
            json.dumps(
                {
                    "app": ws.app,
                    "env": ws.env,
                    "since": args.since,
                    "figures": found.values,
                    "alerts": [a.__dict__ for a in alerts],
                },
                indent=2,
            )
        )
    else:
        print(_table(ws.app, ws.env, args.since, found.values, alerts, args.format == "markdown"))
    return 1 if any(not a.passed for a in alerts) else 0


def window_start_ms(since: str) -> int:
    """When a window like `30m`, `1h` or `7d` began, in epoch milliseconds (LS620 if unclear)."""
    from llmspec.diagnostics import SpecError, error

    match = re.fullmatch(r"([0-9]+)([smhd])", since)
    if match is None:
        raise SpecError([error("LS620", f"`--since {since}` is not a window like 1h or 30m")])
    return int((time.time() - int(match.group(1)) * UNITS[match.group(2)]) * 1000)


def _eval_questions(resolved: Any) -> list[str]:
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


def _table(
    app: str, env: str, since: str, values: dict[str, float], alerts: Any, markdown: bool
) -> str:
    rows = [(name, f"{value:.4g}") for name, value in values.items()]
    alert_rows = [
        (a.alert, "—" if a.value is None else f"{a.value:.4g}", "ok" if a.passed else "FIRING")
        for a in alerts
    ]
    if markdown:
        lines = [f"### {app} in {env}, last {since}", "", "| figure | value |", "|---|---|"]
        lines += [f"| {n} | {v} |" for n, v in rows]
        if alert_rows:
            lines += ["", "| alert | value | state |", "|---|---|---|"]
            lines += [f"| {a} | {v} | {s} |" for a, v, s in alert_rows]
        return "\n".join(lines)
    width = max([len(n) for n, _ in rows] + [len(a) for a, _, _ in alert_rows] + [6])
    lines = [f"{app} in {env}, last {since}"]
    lines += [f"  {n.ljust(width)}  {v}" for n, v in rows]
    if alert_rows:
        lines += ["alerts"]
        lines += [f"  {a.ljust(width)}  {v:>8}  {s}" for a, v, s in alert_rows]
    return "\n".join(lines)
