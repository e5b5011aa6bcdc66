"""Execute a plan: in dependency order, under the app+env lock, recording each finished
resource in state at once so that a re-run after a crash resumes where it stopped."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from llmspec.checks.governance import required_approvals
from llmspec.core.diagnostics import Diagnostic, Severity, error
from llmspec.core.git import head_commit
from llmspec.core.layout import Layout
from llmspec.engine import approvals
from llmspec.engine.hooks import Hook
from llmspec.engine.locking import holding
from llmspec.engine.render import digest_text, write_artifacts
from llmspec.engine.step import Resource, RunContext, StepFailed
from llmspec.engine.step_log import step_log_path, to_step_log
from llmspec.engine.workspace import Workspace
from llmspec.plans.graph import Graph
from llmspec.plans.order import deletion_order
from llmspec.plans.planner import Change, Plan
from llmspec.plans.saved import SavedPlan, check_saved
from llmspec.state.model import JournalEntry, ResourceState, now


@dataclass
class Outcome:
    address: str
    action: str
    status: str  # done, reused, deleted, kept, failed, skipped
    seconds: float = 0.0
    diagnostics: list[Diagnostic] = field(default_factory=list)
    log: str | None = None  # the step's library output (a failure's progress line names it)


@dataclass
class ApplyResult:
    plan: Plan
    outcomes: list[Outcome] = field(default_factory=list)
    workspace: Workspace | None = None  # where it ran: state, build folder, the resolved spec

    @property
    def ok(self) -> bool:
        return all(o.status not in ("failed", "skipped") for o in self.outcomes)

    @property
    def applied(self) -> int:
        """Changes that ended as planned (built, reused, deleted or kept)."""
        return sum(o.status in ("done", "reused", "deleted", "kept") for o in self.outcomes)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for o in self.outcomes for d in o.diagnostics]


def apply(
    ws: Workspace,
    *,
    saved_plan: SavedPlan | None = None,
    lock_timeout: float | None = None,
    targets: Iterable[str] = (),
    hook: Hook | None = None,
    refresh: bool = True,
) -> ApplyResult:
    """Plan again under the lock, check a saved plan still holds and that the plan has the
    approvals governance asks for, then execute."""
    hook = hook or Hook()
    hook.applying(ws.app, ws.env)
    hook.log(f"Tracking: {ws.tracking.describe()}")
    spec = ws.resolved.spec
    timeout = spec.state.lock_timeout_s if lock_timeout is None else lock_timeout
    with holding(ws, "apply", timeout):
        graph, plan = ws.plan(targets, refresh=refresh)
        check_saved(saved_plan, plan)
        needed = required_approvals(spec, ws.repo_root, ws.resolved.env)
        approved_by: list[str] = []
        if needed > 0 and plan.has_changes:
            approved_by = approvals.check(
                ws.backend.journal(ws.app, ws.env),
                plan,
                needed,
                ws.resolved.document.span(("governance", "approvals")),
            )
        if not plan.has_changes:
            return ApplyResult(plan, workspace=ws)
        return _execute(ws, graph, plan, hook, approved_by)


def _execute(
    ws: Workspace, graph: Graph, plan: Plan, hook: Hook, approved_by: list[str]
) -> ApplyResult:
    result = ApplyResult(plan, workspace=ws)
    backend, app, env = ws.backend, ws.app, ws.env
    commit = head_commit(ws.repo_root)

    def journal(event: str, **fields: Any) -> None:
        backend.append_journal(
            JournalEntry(event, app, env, git_commit=commit, plan_digest=plan.digest, **fields)
        )

    summary = plan.to_json()["summary"]
    journal("apply-started", detail={"changes": summary, "approved_by": approved_by})
    _mark_rebuilt_dependents(ws, graph, plan)
    recorded = dict(backend.read(app, env).resources)
    broken: set[str] = set()  # failed or skipped: their dependents cannot run
    try:
        for change in plan.changes:
            if change.action in ("no-op", "delete"):
                continue
            if broken.intersection(change.deps):
                outcome = Outcome(
                    change.address,
                    change.action,
                    "skipped",
                    diagnostics=[
                        Diagnostic(
                            "LS608",
                            f"`{change.address}` was not applied: a dependency failed",
                            severity=Severity.NOTE,
                        )
                    ],
                )
                broken.add(change.address)
            else:
                hook.started(change)
                outcome = _run_one(
                    ws, graph.resources[change.address], change, recorded, hook, approved_by
                )
                if outcome.status == "failed":
                    broken.add(change.address)
            result.outcomes.append(outcome)
            hook.finished(outcome)
        for change in deletion_order(plan.changes, recorded):
            if broken:  # remove nothing while the new state is incomplete
                outcome = Outcome(change.address, "delete", "skipped")
            else:
                hook.started(change)
                outcome = _delete(ws, change, recorded, hook)
            result.outcomes.append(outcome)
            hook.finished(outcome)
    except BaseException:
        journal("apply-finished", result="interrupted")
        raise
    journal(
        "apply-finished",
        result="ok" if result.ok else "failed",
        detail={o.address: o.status for o in result.outcomes},
    )
    return result


def rebuilding(change: Change) -> bool:
    """A rebuild from unchanged inputs (a retraining mark, or what takes its outputs)."""
    same = change.inputs_digest is not None and change.inputs_digest == change.previous_digest
    return same and any(r.code in ("marked", "upstream_rebuilt") for r in change.reasons)


def _mark_rebuilt_dependents(ws: Workspace, graph: Graph, plan: Plan) -> None:
    """Before anything runs, mark what takes a rebuilt resource's outputs (transitively, in
    the plan or not, e.g. under --target): their digests stay the same, so without the mark a
    rebuilt fine-tune would never be packaged if this apply stops halfway or leaves them out."""
    rebuilt = [c.address for c in plan.changes if rebuilding(c) and c.action != "no-op"]
    resources = ws.backend.read(ws.app, ws.env).resources
    for address, resource in graph.resources.items():  # dependencies first
        upstream = next((d for d in resource.deps if d in rebuilt), None)
        if upstream is None:
            continue
        rebuilt.append(address)
        old = resources.get(address)
        if old is not None and not old.marked:
            note = {"why": f"upstream {upstream} is rebuilt", "by": "apply", "at": now()}
            ws.backend.put_resource(ws.app, ws.env, replace(old, marked=note))


def _context(
    ws: Workspace, kind: str, digest: str, action: str, previous: ResourceState | None, **extra: Any
) -> RunContext:
    """The context a step kind runs, reuses or destroys one resource in."""
    return RunContext(
        spec=ws.resolved.spec,
        app=ws.app,
        env=ws.env,
        spec_dir=ws.resolved.path.resolve().parent,
        build_dir=ws.build_dir,
        artifact_dir=ws.artifacts.folder(ws.app, kind, digest),
        repo_root=ws.repo_root,
        build_store=ws.artifacts.remote,
        action=action,
        previous=previous,
        **extra,
    )


def completed(resource: Resource, outputs: dict[str, Any], built_in: str) -> ResourceState:
    """The record of ``resource`` built (or adopted) with ``outputs``, in environment
    ``built_in``: its digest, config, files and upstream digests as the plan saw them."""
    return ResourceState(
        resource.address,
        resource.kind,
        resource.inputs_digest,
        "complete",
        outputs,
        dict(resource.config),
        dict(resource.file_digests),
        dict(resource.dep_digests),
        now(),
        built_in,
        after=resource.after,
    )


def _run_one(
    ws: Workspace,
    resource: Resource,
    change: Change,
    recorded: dict[str, ResourceState],
    hook: Hook,
    approved_by: list[str],
) -> Outcome:
    started = time.perf_counter()
    step = ws.steps[resource.kind]
    log = step_log_path(ws.repo_root / Layout.HOME, ws.app, ws.env, resource.address)
    try:
        # rendered in memory, written only once the step succeeded: build/ never shows the
        # artifacts of a failed or interrupted attempt
        files = step.render(resource, ws.resolved.spec)
        rendered = {rel: digest_text(text) for rel, text in sorted(files.items())}
        ctx = _context(
            ws,
            resource.kind,
            resource.inputs_digest,
            change.action,
            recorded.get(resource.address),
            rendered=rendered,
            log=hook.log,
            progress=hook.progress,
            inputs={d: recorded[d] for d in (*resource.deps, *resource.after) if d in recorded},
            approved_by=tuple(approved_by),
        )
        if rebuilding(change):  # a fresh folder: the digest's own may be another env's outputs
            stamp = now().replace(":", "").replace("-", "")
            ctx = replace(
                ctx, artifact_dir=ctx.artifact_dir.with_name(f"{ctx.artifact_dir.name}-{stamp}")
            )
        built_in = ws.env
        with to_step_log(log, resource.address):
            if change.action == "reuse":
                record = ws.artifacts.find(ws.app, resource.kind, resource.inputs_digest)
                assert record is not None  # the plan found it under the same lock
                outputs = step.reuse(resource, record.outputs, ctx)
                built_in = record.env
            else:
                outputs = step.run(resource, ctx)
    except StepFailed as exc:
        return _failed(ws, resource, change, recorded, exc.diagnostics, started, log)
    except Exception as exc:  # a library error inside a step: shown as this step's failure
        diag = error("LS602", f"`{resource.address}` failed: {type(exc).__name__}: {exc}")
        return _failed(ws, resource, change, recorded, [diag], started, log)
    if rendered:  # the artifacts written, with their digests
        write_artifacts(ws.build_dir, files)
        outputs = {**outputs, "rendered": rendered}
    state = completed(resource, outputs, built_in)
    ws.backend.put_resource(ws.app, ws.env, state)
    recorded[resource.address] = state
    if step.reusable and change.action != "reuse" and not rebuilding(change):
        ws.artifacts.record(
            ws.app, resource.kind, resource.address, ws.env, resource.inputs_digest, outputs
        )
    status = "reused" if change.action == "reuse" else "done"
    return Outcome(resource.address, change.action, status, time.perf_counter() - started)


def _failed(
    ws: Workspace,
    resource: Resource,
    change: Change,
    recorded: dict[str, ResourceState],
    diagnostics: list[Diagnostic],
    started: float,
    log: Path | None = None,
) -> Outcome:
    if resource.address not in recorded:  # keep a good previous record; mark a new one failed
        ws.backend.put_resource(
            ws.app,
            ws.env,
            ResourceState(
                resource.address,
                resource.kind,
                resource.inputs_digest,
                "failed",
                {},
                dict(resource.config),
                dict(resource.file_digests),
                dict(resource.dep_digests),
                now(),
                ws.env,
                after=resource.after,
            ),
        )
    seconds = time.perf_counter() - started
    where = None
    if log is not None and log.is_file():
        where = str(log.relative_to(ws.repo_root)) if log.is_relative_to(ws.repo_root) else str(log)
    return Outcome(resource.address, change.action, "failed", seconds, diagnostics, where)


def _delete(
    ws: Workspace, change: Change, recorded: dict[str, ResourceState], hook: Hook
) -> Outcome:
    started = time.perf_counter()
    old = recorded[change.address]
    step = ws.steps.get(old.kind)
    ctx = _context(ws, old.kind, old.inputs_digest, "delete", old, inputs={}, log=hook.log,
                   progress=hook.progress)  # fmt: skip
    try:
        removed = step.destroy(old, ctx) if step is not None else False
    except Exception as exc:
        diag = error("LS602", f"removing `{change.address}` failed: {type(exc).__name__}: {exc}")
        return Outcome(change.address, "delete", "failed", time.perf_counter() - started, [diag])
    ws.backend.remove_resource(ws.app, ws.env, change.address)
    recorded.pop(change.address, None)
    return Outcome(
        change.address, "delete", "deleted" if removed else "kept", time.perf_counter() - started
    )
