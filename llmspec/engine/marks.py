"""Marking an app for retraining. An alert with `action: retrain` that fires in `llmspec monitor`
marks the environment's fine-tune in state (who, when, which alert); the next plan shows it as a
replacement with that reason and updates what depends on it, and the apply that rebuilds it
clears the mark (the new record has none). `llmspec state unmark` clears a false alarm.

The mark changes state, so plans saved (and approved) before it are stale, as after an apply."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from llmspec.engine.locking import holding
from llmspec.state.model import JournalEntry, now

MARK_LOCK_SECONDS = 10.0  # a monitor run does not wait long behind an apply


def finetune_addresses(ws: Any) -> list[str]:
    return [a for a, r in ws.backend.read(ws.app, ws.env).resources.items() if r.kind == "finetune"]


def last_rebuilt_ms(ws: Any) -> int:
    """When the app's fine-tune was last built in this environment, in epoch milliseconds."""
    from datetime import datetime

    resources = ws.backend.read(ws.app, ws.env).resources
    times = [r.updated_at for r in resources.values() if r.kind == "finetune" and r.updated_at]
    if not times:
        return 0
    latest = max(times)
    return int(datetime.strptime(latest, "%Y-%m-%dT%H:%M:%S%z").timestamp() * 1000)


def mark(ws: Any, why: str, by: str = "monitor") -> list[str]:
    """Mark every fine-tune of the app in its environment and return their addresses (one
    already marked keeps its first reason). LS603 while an apply holds the lock."""
    marked = []
    with holding(ws, "mark", MARK_LOCK_SECONDS):
        for address in finetune_addresses(ws):
            old = ws.backend.read(ws.app, ws.env).resources[address]
            marked.append(address)
            if old.marked:
                continue
            note = {"why": why, "by": by, "at": now()}
            ws.backend.put_resource(ws.app, ws.env, replace(old, marked=note))
            ws.backend.append_journal(
                JournalEntry("mark", ws.app, ws.env, detail={"address": address, **note})
            )
    return marked


def unmark(ws: Any, address: str) -> bool:
    """Clear a mark; False when the resource was not marked (LS603 while locked)."""
    with holding(ws, "unmark", MARK_LOCK_SECONDS):
        old = ws.backend.read(ws.app, ws.env).resources.get(address)
        if old is None or not old.marked:
            return False
        ws.backend.put_resource(ws.app, ws.env, replace(old, marked={}))
        ws.backend.append_journal(
            JournalEntry("unmark", ws.app, ws.env, detail={"address": address, **old.marked})
        )
    return True
