"""`llmspec audit`: an app's trail in one environment, oldest first: the state journal
(applies, approvals, rollbacks, unlocks, marks) and the registry's versions (registered,
promoted, rejected, rolled back)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from llmspec.engine.workspace import Workspace
from llmspec.integrations.mlflow import Tag


@dataclass(frozen=True)
class AuditEvent:
    at: str  # ISO 8601, UTC
    event: str
    who: str
    what: str
    source: str  # journal or registry
    detail: dict[str, Any] = field(default_factory=dict)


def audit(ws: Workspace) -> list[AuditEvent]:
    events = [_from_journal(e.to_json()) for e in ws.backend.journal(ws.app, ws.env)]
    events += _from_registry(ws)
    return sorted(events, key=lambda e: e.at)


def _from_journal(entry: dict[str, Any]) -> AuditEvent:
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
    if entry["event"].startswith("rollout-") and detail:
        parts.append(
            f"{detail.get('alias')}: version {detail.get('challenger')} beside "
            f"{detail.get('champion')} at {detail.get('weight')}%: {detail.get('reason')}"
        )
    if entry["event"] == "rollback" and detail:
        parts.append(f"{detail.get('alias')}: {detail.get('from')} → {detail.get('to')}")
    who = f"{entry.get('who')}@{entry.get('host')}"
    return AuditEvent(
        str(entry["at"]), str(entry["event"]), who, ", ".join(parts), "journal", detail
    )


def _from_registry(ws: Workspace) -> list[AuditEvent]:
    """Versions of the app's registered model that this environment made or promoted."""
    from llmspec.integrations.mlflow import client_for
    from llmspec.kinds.promote.promoted import recorded_tracking_uri

    tracking = recorded_tracking_uri(ws)
    if tracking is None:
        return []
    client = client_for(tracking)
    name = ws.resolved.spec.registered_name
    out = []
    for version in client.search_model_versions(f"name='{name}'"):
        tags = version.tags or {}
        if tags.get(Tag.ENV) != ws.env:
            continue
        at = _when(version.creation_timestamp)
        who = f"{tags.get(Tag.USER, '')}".strip() or "registry"
        what = f"{name} v{version.version} (run {version.run_id})"
        out.append(AuditEvent(at, "version-registered", who, what, "registry", tags))
        updated = _when(version.last_updated_timestamp or version.creation_timestamp)
        for key in tags:
            if key.startswith(Tag.PROMOTED.format("")):
                alias = key.removeprefix(Tag.PROMOTED.format(""))
                approved = tags.get(Tag.APPROVED_BY.format(alias))
                what = f"{name}@{alias} → v{version.version}" + (
                    f", approved by {approved}" if approved else ""
                )
                out.append(AuditEvent(updated, "promoted", who, what, "registry"))
            if key.startswith(Tag.ROLLOUT.format("")):
                alias = key.removeprefix(Tag.ROLLOUT.format(""))
                what = f"{name}@{alias}: v{version.version} rolls out ({tags[key]})"
                out.append(AuditEvent(at, "rollout-started", who, what, "registry"))
        if tags.get(Tag.REJECTED) == "true":
            reasons = tags.get(Tag.REJECTED_REASONS, "")
            what = f"v{version.version}: {reasons}"
            out.append(AuditEvent(updated, "rejected", who, what, "registry"))
        if tags.get(Tag.ROLLED_BACK_FROM):
            what = f"v{version.version} left @{tags[Tag.ROLLED_BACK_FROM]}"
            out.append(AuditEvent(updated, "rolled-back-from", who, what, "registry"))
    return out


def _when(millis: int | None) -> str:
    return datetime.fromtimestamp((millis or 0) / 1000, UTC).isoformat()
