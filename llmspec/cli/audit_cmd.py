"""`llmspec audit SPEC -e ENV`: who changed what, when: the state journal (applies, rollbacks,
lock breaks, destroys, with user, host, git commit and plan digest) and the registry's record
of the app's model versions (registered, promoted, rejected with reasons, rolled back)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from llmspec.cli.common import resolve_or_report, spec_command

HELP = "the audit trail of an app in an environment: journal and registry, oldest first"
EXAMPLES = """examples:
  llmspec audit specs/app.yaml -e prod
  llmspec audit specs/app.yaml -e prod --format json"""


def add_parser(sub: Any, name: str) -> None:
    parser = spec_command(sub, name, HELP, EXAMPLES)
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output")


def run(args: argparse.Namespace) -> int:
    from llmspec.engine.workspace import open_workspace

    resolved = resolve_or_report(args.spec, args.env, args.overrides)
    if resolved is None:
        return 1
    ws = open_workspace(resolved, args.state)
    events = [_from_journal(e.to_json()) for e in ws.backend.journal(ws.app, ws.env)]
    events += _from_registry(ws)
    events.sort(key=lambda e: e["at"])
    if args.format == "json":
        print(json.dumps(events, indent=2, default=str))
        return 0
    if not events:
        print(f"nothing recorded for {ws.app} in {ws.env}")
        return 0
    for event in events:
        print(f"{event['at'][:19]}  {event['event']:<18} {event['who']:<22} {event['what']}")
    return 0


def _from_journal(entry: dict[str, Any]) -> dict[str, Any]:
    detail = entry.get("detail") or {}
    parts = []
    if entry.get("result"):
        parts.append(str(entry["result"]))
    if entry.get("git_commit"):
        parts.append(f"commit {str(entry['git_commit'])[:10]}")
    if entry.get("plan_digest"):
        parts.append(f"plan {str(entry['plan_digest'])[:19]}")
    if entry["event"] == "approve" and detail.get("comment"):
        parts.append(repr(detail["comment"]))
    if detail.get("approved_by"):
        parts.append(f"approved by {', '.join(detail['approved_by'])}")
    if entry["event"] == "rollback" and detail:
        parts.append(f"{detail.get('alias')}: {detail.get('from')} → {detail.get('to')}")
    return {
        "at": str(entry["at"]),
        "event": str(entry["event"]),
        "who": f"{entry.get('who')}@{entry.get('host')}",
        "what": ", ".join(parts),
        "source": "journal",
        "detail": detail,
    }


def _from_registry(ws: Any) -> list[dict[str, Any]]:
    """Versions of the app's registered model that this environment made or promoted."""
    promoted = ws.backend.read(ws.app, ws.env).resources
    tracking = next(
        (str(r.outputs["tracking_uri"]) for r in promoted.values() if "tracking_uri" in r.outputs),
        None,
    )
    if tracking is None:
        return []
    from llmspec.integrations.mlflow import quiet_mlflow

    quiet_mlflow()
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    name = ws.resolved.spec.registered_name
    out = []
    for version in client.search_model_versions(f"name='{name}'"):
        tags = version.tags or {}
        if tags.get("llmspec.env") != ws.env:
            continue
        at = _when(version.creation_timestamp)
        who = f"{tags.get('llmspec.user', '')}".strip() or "registry"
        what = f"{name} v{version.version} (run {version.run_id})"
        out.append(_event(at, "version-registered", who, what, tags))
        updated = _when(version.last_updated_timestamp or version.creation_timestamp)
        for key in tags:
            if key.startswith("llmspec.kinds.promote.promoted."):
                alias = key.removeprefix("llmspec.kinds.promote.promoted.")
                approved = tags.get(f"llmspec.approved_by.{alias}")
                what = f"{name}@{alias} → v{version.version}" + (
                    f", approved by {approved}" if approved else ""
                )
                out.append(_event(updated, "promoted", who, what))
        if tags.get("llmspec.rejected") == "true":
            reasons = tags.get("llmspec.rejected_reasons", "")
            out.append(_event(updated, "rejected", who, f"v{version.version}: {reasons}"))
        if tags.get("llmspec.rolled_back_from"):
            alias = tags["llmspec.rolled_back_from"]
            out.append(
                _event(updated, "rolled-back-from", who, f"v{version.version} left @{alias}")
            )
    return out


def _when(millis: int | None) -> str:
    return datetime.fromtimestamp((millis or 0) / 1000, UTC).isoformat()


def _event(
    at: str, event: str, who: str, what: str, detail: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"at": at, "event": event, "who": who, "what": what, "source": "registry",
            "detail": detail or {}}  # fmt: skip
