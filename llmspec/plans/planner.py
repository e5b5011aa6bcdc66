"""Diff the resource graph against recorded state: what apply would do, and why."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from llmspec.engine.build_store import ArtifactStore
from llmspec.engine.step import Drift, Resource, Step
from llmspec.plans.digest import digest_of
from llmspec.plans.graph import Graph
from llmspec.state.model import AppState, ResourceState

PLAN_FORMAT_VERSION = 1
ACTIONS = ("create", "update", "replace", "reuse", "delete", "no-op")
_MISSING = object()


@dataclass(frozen=True)
class Reason:
    """Why a resource changes: a stable code and what exactly differs."""

    code: str  # new, removed, config_changed, input_file_changed, upstream_changed,
    # previous_failed, marked (for a rebuild, by `llmspec monitor`), upstream_rebuilt,
    # changed_outside (plan's refresh found the recorded outputs changed: `new` says how)
    what: str = ""  # the field path, file or upstream address
    old: Any = None
    new: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "what": self.what, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Change:
    address: str
    kind: str
    action: str
    reasons: tuple[Reason, ...] = ()
    inputs_digest: str | None = None
    previous_digest: str | None = None
    estimate: str | None = None
    reuse_from: str | None = None  # the environment that built the reused outputs
    deps: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "kind": self.kind,
            "action": self.action,
            "reasons": [r.to_json() for r in self.reasons],
            "inputs_digest": self.inputs_digest,
            "previous_digest": self.previous_digest,
            "estimate": self.estimate,
            "reuse_from": self.reuse_from,
            "depends_on": list(self.deps),
        }


@dataclass(frozen=True)
class Plan:
    app: str
    env: str
    spec_file: str
    state_serial: int
    changes: tuple[Change, ...]
    targets: tuple[str, ...] = ()
    backend: str = ""  # the state backend planned against (a saved plan applies only there)
    tracking: str = ""  # the MLflow tracking server in use, and what chose it

    @property
    def has_changes(self) -> bool:
        return any(c.action != "no-op" for c in self.changes)

    def count(self, action: str) -> int:
        return sum(c.action == action for c in self.changes)

    @property
    def digest(self) -> str:
        """Identifies what this plan would do, against which state: a saved plan is applied
        only while this still matches."""
        return digest_of(
            {
                "app": self.app,
                "env": self.env,
                "backend": self.backend,
                "tracking": self.tracking.split(" (from ")[0],  # the server, whatever chose it
                "serial": self.state_serial,
                "changes": [(c.address, c.action, c.inputs_digest) for c in self.changes],
            }
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": PLAN_FORMAT_VERSION,
            "app": self.app,
            "env": self.env,
            "spec": self.spec_file,
            "state_serial": self.state_serial,
            "plan_digest": self.digest,
            "state_backend": self.backend,
            "tracking": self.tracking,
            "targets": list(self.targets),
            "summary": {a: self.count(a) for a in ACTIONS},
            "changes": [c.to_json() for c in self.changes],
        }


def build_plan(
    graph: Graph,
    state: AppState,
    steps: Mapping[str, Step],
    spec_file: str,
    artifacts: ArtifactStore | None = None,
    targets: Iterable[str] = (),
    backend: str = "",
    drifts: Mapping[str, list[Drift]] | None = None,
) -> Plan:
    """``drifts``: what the refresh found changed outside llmspec, by address."""
    targets = tuple(targets)
    addresses = graph.closure(targets) if targets else list(graph.resources)
    found = drifts or {}
    changes = _rebuild_downstream(
        [
            _drifted(
                _change(graph.resources[a], state.resources.get(a), steps, graph, artifacts),
                found.get(a, []),
                graph.resources[a],
            )
            for a in addresses
        ],
        graph,
    )
    if not targets:
        for address, old in state.resources.items():
            if address not in graph.resources:
                changes.append(
                    Change(
                        address, old.kind, "delete", (Reason("removed"),), None, old.inputs_digest
                    )
                )
    return Plan(graph.app, graph.env, spec_file, state.serial, tuple(changes), targets, backend)


def _drifted(change: Change, drifts: list[Drift], resource: Resource) -> Change:
    """An unchanged resource whose outputs changed outside llmspec: apply puts them back."""
    if not drifts or change.action != "no-op":
        return change  # already rebuilt or updated, which reconciles it anyway
    action = "replace" if any(d.action == "replace" for d in drifts) else "update"
    reasons = tuple(Reason("changed_outside", d.what, None, d.message) for d in drifts)
    return replace(change, action=action, reasons=reasons, estimate=resource.estimate)


def _rebuild_downstream(changes: list[Change], graph: Graph) -> list[Change]:
    """A resource rebuilt from unchanged inputs (marked, or gone outside llmspec) leaves its
    dependents' digests as they were, yet they must take the rebuilt outputs: update them too
    (graph order, so a chain propagates)."""
    rebuilt: set[str] = set()
    out = []
    for change in changes:
        needs = graph.resources[change.address].deps if change.address in graph.resources else ()
        upstream = next((d for d in needs if d in rebuilt), None)  # `after` takes no outputs
        rebuilds = any(r.code == "marked" for r in change.reasons) or (
            change.action == "replace" and any(r.code == "changed_outside" for r in change.reasons)
        )  # a rebuild of what vanished outside llmspec gives new outputs too
        if rebuilds and change.action != "reuse":
            rebuilt.add(change.address)
        elif upstream is not None and change.action == "no-op":
            resource = graph.resources[change.address]
            change = replace(
                change,
                action="update",
                reasons=(Reason("upstream_rebuilt", upstream),),
                estimate=resource.estimate,
            )
            rebuilt.add(change.address)
        elif upstream is not None and change.action == "reuse":  # built from the old upstream
            change = replace(
                change,
                action="update" if change.previous_digest else "create",
                reuse_from=None,
                estimate=graph.resources[change.address].estimate,
            )
            rebuilt.add(change.address)
        elif upstream is not None and change.action in ("create", "update", "replace"):
            rebuilt.add(change.address)
        out.append(change)
    return out


def _change(
    resource: Resource,
    old: ResourceState | None,
    steps: Mapping[str, Step],
    graph: Graph,
    artifacts: ArtifactStore | None,
) -> Change:
    step = steps[resource.kind]

    def change(action: str, reasons: Iterable[Reason], reuse_from: str | None = None) -> Change:
        return Change(
            resource.address,
            resource.kind,
            action,
            tuple(reasons),
            resource.inputs_digest,
            old.inputs_digest if old else None,
            resource.estimate if action in ("create", "update", "replace") else None,
            reuse_from,
            (*resource.deps, *resource.after),
        )

    marked = Reason("marked", str(old.marked.get("why", "")), old.marked.get("by"),
                    old.marked.get("at")) if old is not None and old.marked else None  # fmt: skip
    if old is not None and old.inputs_digest == resource.inputs_digest and old.status == "complete":
        # a marked resource is rebuilt from the same inputs, never reused from the store
        return change("replace", [marked]) if marked else change("no-op", ())
    if old is None:
        action, reasons = "create", [Reason("new")]
    elif old.inputs_digest == resource.inputs_digest:
        action, reasons = "update", [Reason("previous_failed", old=old.status)]
    else:
        reasons = _reasons(resource, old)
        replaced = any(
            r.code == "config_changed" and r.what.split(".")[0] in step.replace_on for r in reasons
        )
        action = "replace" if replaced else "update"
    if marked is not None:
        reasons = [marked, *reasons]
    if step.reusable and artifacts is not None:
        built = artifacts.find(graph.app, resource.kind, resource.inputs_digest)
        if built is not None:
            return change("reuse", reasons, reuse_from=built.env)
    return change(action, reasons)


def _reasons(resource: Resource, old: ResourceState) -> list[Reason]:
    reasons = [
        Reason("config_changed", path, a, b)
        for path, a, b in diff_values(old.config, dict(resource.config))
    ]
    for path in sorted(set(old.files) | set(resource.file_digests)):
        before, after = old.files.get(path), resource.file_digests.get(path)
        if before != after:
            what = "added" if before is None else "removed" if after is None else "changed"
            reasons.append(Reason("input_file_changed", path, before, after or what))
    for dep in sorted(set(old.deps) | set(resource.dep_digests)):
        before, after = old.deps.get(dep), resource.dep_digests.get(dep)
        if before != after:
            reasons.append(Reason("upstream_changed", dep, before, after))
    return reasons or [Reason("config_changed", "(format)")]


def diff_values(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Leaf paths whose values differ: [(dotted path, old, new)]; missing is None."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            out.extend(diff_values(old.get(key, None), new.get(key, None), sub))
        return out
    if old != new:
        return [(path or "(value)", old, new)]
    return []
