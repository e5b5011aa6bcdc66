"""`llmspec monitor SPEC -e ENV [--since 1h] [--format text|json|markdown]`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from llmspec.cli.common import resolve_or_report, spec_command

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


def run(args: argparse.Namespace) -> int:
    from llmspec.engine.marks import last_rebuilt_ms
    from llmspec.engine.workspace import open_workspace
    from llmspec.integrations.mlflow import experiment_for, quiet_mlflow
    from llmspec.kinds.promote.promoted import promoted_model
    from llmspec.operate.monitor import check_alerts, figures, from_trace, since, window_ms

    resolved = resolve_or_report(args.spec, args.env, args.overrides)
    if resolved is None:
        return 1
    spec = resolved.spec
    now_ms = int(time.time() * 1000)
    since_ms = now_ms - window_ms(args.since)
    alert_specs = [a.model_dump(mode="json") for a in spec.serving.monitoring.alerts]
    starts = {a["window"]: now_ms - window_ms(a["window"]) for a in alert_specs}
    ws = open_workspace(resolved, args.state)
    promoted = promoted_model(ws)
    quiet_mlflow()
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(promoted.tracking_uri)
    client = MlflowClient(tracking_uri=promoted.tracking_uri)
    experiment = experiment_for(client, spec, ws.app, ws.env, ws.repo_root)
    traces = mlflow.search_traces(
        experiment_ids=[experiment],
        filter_string=f"timestamp_ms > {min([since_ms, *starts.values()])}",
        return_type="list",
        max_results=100_000,
    )
    requests = sorted((from_trace(t) for t in traces), key=lambda r: r.at_ms)
    card = spec.metadata.card
    cost = card.cost.per_1k_tokens_usd if card is not None and card.cost is not None else None
    questions = _eval_questions(resolved)
    shown = since(requests, since_ms)
    found = figures(shown, questions, cost)
    rebuilt = last_rebuilt_ms(ws)
    alerts = []
    for alert in alert_specs:
        # a retrain alert is judged on the current fine-tune's traffic only: the old model's
        # ratings would otherwise mark it again right after retraining
        start = starts[alert["window"]]
        start = max(start, rebuilt) if alert["action"] == "retrain" else start
        found_then = figures(since(requests, start), questions, cost)
        alerts += check_alerts([alert], {alert["window"]: found_then})
    fired = [a for a in alerts if not a.passed and a.action == "retrain"]
    marked = _mark_for_retraining(ws, fired)
    if args.format == "json":
        print(
            json.dumps(
                {
                    "app": ws.app,
                    "env": ws.env,
                    "since": args.since,
                    "figures": found.values,
                    "alerts": [a.__dict__ for a in alerts],
                    "marked_for_retraining": marked,
                },
                indent=2,
            )
        )
    else:
        print(_table(ws.app, ws.env, args.since, found.values, alerts, args.format == "markdown"))
        for address in marked:
            print(f"\nMarked {address} for retraining: the next plan rebuilds it.")
    failing = 1 if any(not a.passed for a in alerts) else 0
    if args.html:
        from llmspec.core.diagnostics import SpecError, error
        from llmspec.operate.monitor_report import write_report

        try:
            write_report(args.html, ws.app, ws.env, args.since, shown, questions, found.values,
                         alerts, marked)  # fmt: skip
        except OSError as exc:
            raise SpecError([error("LS622", f"cannot write the report `{args.html}`: {exc}",
                                   hint="choose a folder you can write to")]) from None  # fmt: skip
        print(f"Report written to {args.html}", file=sys.stderr)
    return failing


def window_start_ms(window: str) -> int:
    """When a window like `30m`, `1h` or `7d` that ends now began, in epoch milliseconds."""
    from llmspec.operate.monitor import window_ms

    return int(time.time() * 1000) - window_ms(window)


def _mark_for_retraining(ws: Any, fired: list[Any]) -> list[str]:
    """Mark the fine-tune when a `retrain` alert fired; a note when that cannot be done."""
    if not fired:
        return []
    from llmspec.engine.marks import finetune_addresses, mark
    from llmspec.state.backend import LockHeld

    if not finetune_addresses(ws):
        print(f"note: `{fired[0].alert}` asks to retrain, but {ws.app} in {ws.env} has no "
              "fine-tune", file=sys.stderr)  # fmt: skip
        return []
    why = "; ".join(f"{a.alert} failed over {a.window} ({a.value:.4g})" for a in fired)
    try:
        return mark(ws, why)
    except LockHeld as exc:
        print(f"note: could not mark the fine-tune for retraining: {exc}; the next monitor run "
              "will", file=sys.stderr)  # fmt: skip
        return []


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
        (
            f"{a.alert} over {a.window}",
            "—" if a.value is None else f"{a.value:.4g}",
            ("ok" if a.passed else "FIRING") + (" (retrain)" if a.action == "retrain" else ""),
        )
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
