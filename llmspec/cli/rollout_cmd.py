"""`llmspec rollout status|advance|abort SPEC -e ENV`: a running rollout's figures and the
sequential test's decision; taking it; ending it."""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, Any

from llmspec.cli.common import Done, Formatter, Status, add_env_options, add_state_option

if TYPE_CHECKING:
    from llmspec.operate.rollout import RolloutReport

HELP = "follow and steer a rollout: status, advance (take the test's decision), abort"
EXAMPLES = """examples:
  llmspec rollout status specs/app.yaml -e prod
  llmspec rollout advance specs/app.yaml -e prod               # one look, one decision
  llmspec rollout advance specs/app.yaml -e prod --watch 60    # look every minute until it ends
  llmspec rollout abort specs/app.yaml -e prod --reason "answers cite old prices"

A rollout starts when apply promotes a version under `serving.rollout`. `advance` reads the
traces since it began, scores them with the online judges, and takes the sequential test's
decision: the next step, the completion (the alias moves), a hold, or a rollback (all traffic
back to the champion). Exit status: 0, or 1 when the rollout was rolled back or aborted."""


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name, help=HELP, description=HELP, epilog=EXAMPLES, formatter_class=Formatter
    )
    parser.add_argument("action", choices=("status", "advance", "abort"), help="what to do")
    parser.add_argument("spec", metavar="SPEC", help="spec file")
    add_env_options(parser)
    add_state_option(parser)
    parser.add_argument(
        "--force", action="store_true", help="advance: the next step whatever the test says"
    )
    parser.add_argument(
        "--watch",
        metavar="SECONDS",
        type=float,
        help="advance: look again every SECONDS until the rollout ends",
    )
    parser.add_argument("--reason", default="aborted by hand", help="abort: why (tagged)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output")


def run(args: argparse.Namespace) -> Done:
    from llmspec import api

    common = {"state": args.state}
    if args.action == "status":
        report = api.rollout_status(args.spec, args.env, args.overrides, **common)
    elif args.action == "abort":
        report = api.rollout_abort(
            args.spec, args.env, args.overrides, reason=args.reason, **common
        )
    else:
        every = args.watch
        while True:
            report = api.rollout_advance(
                args.spec, args.env, args.overrides, force=args.force, **common
            )
            if every is None or report.rollout.state != "running":
                break
            _show(report, args.format)
            time.sleep(every)
    _show(report, args.format)
    failed = report.rollout.state in ("rolled_back", "aborted") and args.action != "status"
    return Done(Status.FAILED if failed else Status.OK, report.notes)


def _show(report: RolloutReport, fmt: str) -> None:
    print(json.dumps(as_json(report), indent=2) if fmt == "json" else render(report))


def as_json(report: RolloutReport) -> dict[str, Any]:
    decision = report.decision
    return {
        "app": report.app,
        "env": report.env,
        "model": report.registered_name,
        "alias": report.alias,
        "rollout": report.rollout.to_json(),
        "weight": report.rollout.weight,
        "decision": None
        if decision is None
        else {
            "action": decision.action,
            "reason": decision.reason,
            "guards": report.figures,
        },
        "taken": report.taken,
        "judged": report.judged,
        "seconds": round(report.seconds, 3),
    }


def render(report: RolloutReport) -> str:
    r = report.rollout
    where = f"step {r.step + 1} of {len(r.steps)}" if r.strategy == "canary" else r.strategy
    lines = [
        f"{report.registered_name}@{report.alias} in {report.env}: version {r.challenger} "
        f"beside {r.champion} ({r.strategy}, {where}, {r.weight}% of traffic) — {r.state}"
    ]
    decision = report.decision
    if decision is not None and decision.intervals:
        lines.append(f"  {'guard':<24} {'challenger':>11} {'champion':>11} {'n':>11}  interval")
        for i in decision.intervals:
            n = f"{i.challenger.n}/{i.champion.n}"
            flag = "worse" if i.worse else ("ok" if i.no_worse else "…")
            lines.append(
                f"  {i.metric:<24} {i.challenger.mean:>11.4g} {i.champion.mean:>11.4g} {n:>11}"
                f"  [{i.lower:.4g}, {i.upper:.4g}] (margin {i.margin:g}) {flag}"
            )
    if report.judged:
        scored = ", ".join(f"{m} {n}" for m, n in sorted(report.judged.items()))
        lines.append(f"  judged now: {scored}")
    if decision is not None:
        verb = {"hold": "holds", "advance": "advances", "complete": "completes"}.get(
            decision.action, "rolls back"
        )
        said = "" if report.taken else " (status: nothing moved)"
        lines.append(f"  decision: {verb}: {decision.reason}{said}")
    elif report.taken == "abort":
        lines.append(f"  aborted: {r.history[-1]['reason']}; all traffic is on {r.champion}")
    if report.taken == "advance":
        lines.append(f"  now {r.weight}% of traffic goes to version {r.challenger}")
    elif report.taken == "complete":
        lines.append(f"  {report.registered_name}@{report.alias} → version {r.challenger}")
    elif report.taken == "rollback":
        lines.append(f"  all traffic is back on version {r.champion}")
    lines.append(f"  ({report.seconds:.2f} s)")
    return "\n".join(lines)
