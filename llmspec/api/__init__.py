"""The public Python API: everything the CLI does, callable from Python, each returning a typed
result and raising :class:`~llmspec.core.diagnostics.SpecError` with diagnostics.

A command is parse → one call here → view: the CLI adds nothing but arguments, the terminal
rendering and exit codes. Functions on one spec in one environment take the spec as a path (with
``env`` and ``overrides`` as `-e` and `--set`) or as an already :func:`resolve`-d spec, and
``state`` as `--state URL`. Heavy libraries are imported only inside the calls that need them,
so ``import llmspec`` and :func:`validate` / :func:`plan` stay light.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

# the front end's calls and types, re-exported: the API is one import
from llmspec.frontend import Report as Report
from llmspec.frontend import ResolvedSpec as ResolvedSpec
from llmspec.frontend import SourceSpec as SourceSpec
from llmspec.frontend import load as load
from llmspec.frontend import resolve as resolve
from llmspec.frontend import validate as validate

if TYPE_CHECKING:
    from llmspec.engine.apply import ApplyResult
    from llmspec.engine.approvals import Approval
    from llmspec.engine.apps import AppPlans, Skipped
    from llmspec.engine.hooks import Hook
    from llmspec.engine.locking import Unlocked
    from llmspec.engine.workspace import Workspace
    from llmspec.kinds.promote.rollback import Rollback
    from llmspec.operate.audit import AuditEvent
    from llmspec.operate.diff import SpecDiff
    from llmspec.operate.locations import Locations
    from llmspec.operate.monitor import MonitorReport
    from llmspec.operate.predict import BatchResult
    from llmspec.operate.sandbox import Attempt
    from llmspec.operate.serve import Server
    from llmspec.plans.planner import Plan
    from llmspec.resolve.provenance import Provenance
    from llmspec.state.model import AppState, ResourceState


def open_workspace(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    state: str | None = None,
    tracking_uri: str | None = None,
) -> Workspace:
    """A spec in one environment with its state backend, build store and build folder: what
    every command on an applied environment starts from. ``tracking_uri`` (`--tracking-uri`)
    comes before `MLFLOW_TRACKING_URI` and the spec's `tracking.uri`."""
    from llmspec.engine.workspace import open_workspace as open_resolved

    resolved = spec if isinstance(spec, ResolvedSpec) else resolve(spec, env, overrides)
    return open_resolved(resolved, state, tracking_uri)


def explain(
    spec: str | os.PathLike[str] | ResolvedSpec,
    path: str = "",
    env: str | None = None,
    overrides: Sequence[str] = (),
) -> list[Provenance]:
    """Each resolved value under ``path`` and the file, line and layer that set it; LS002 when
    the spec has no such path."""
    from llmspec.core.diagnostics import SpecError, error
    from llmspec.resolve.provenance import explain as provenance

    resolved = spec if isinstance(spec, ResolvedSpec) else resolve(spec, env, overrides)
    try:
        return provenance(resolved, path)
    except KeyError:
        message = f"`{path}` is not a path in the resolved spec"
        hint = "`llmspec show SPEC` prints every path"
        raise SpecError([error("LS002", message, hint=hint)]) from None


def show(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """The resolved spec as plain data: overlays merged, defaults filled in, secrets kept as
    references."""
    from llmspec.resolve.provenance import resolved_data

    return resolved_data(spec if isinstance(spec, ResolvedSpec) else resolve(spec, env, overrides))


def init(
    name: str | None,
    folder: str | os.PathLike[str] = "specs",
    owner: str = "my-team",
    ci: str | None = None,
) -> list[FsPath]:
    """Scaffold an app spec with sample data that validates at once, and/or the CI workflow
    (``ci="github"``); returns the files written."""
    from llmspec.authoring.scaffold import scaffold, write_ci

    written = [FsPath(p) for p in scaffold(name, folder, owner)] if name else []
    if ci:
        written.extend(write_ci(ci, str(folder)))
    return written


def schema_files(
    out: str | os.PathLike[str] = "schemas/llmspec.schema.json",
    docs: str | os.PathLike[str] | None = None,
) -> dict[FsPath, str]:
    """What `llmspec schema` writes: the JSON Schema at ``out`` and, with ``docs``, the
    generated reference pages, each path with its text."""
    from llmspec.authoring.schema import generated_docs, json_schema_text

    files = {FsPath(out): json_schema_text()}
    if docs is not None:
        files.update({FsPath(docs) / name: text for name, text in generated_docs().items()})
    return files


# --- plan and apply -------------------------------------------------------------------------


def plan(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    state: str | None = None,
    targets: Sequence[str] = (),
    out: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
    refresh: bool = True,
) -> Plan:
    """What apply would create, update, replace, reuse or delete, and why; with ``out``, the
    plan is saved for `approve` and `apply`."""
    ws = open_workspace(spec, env, overrides, state=state, tracking_uri=tracking_uri)
    _, found = ws.plan(targets, refresh=refresh)
    if out is not None:
        from llmspec.plans.saved import save_plan

        if isinstance(spec, ResolvedSpec):  # what it was resolved from, to resolve it again
            save_plan(found, out, spec.path, spec.env, list(spec.overrides))
        else:
            save_plan(found, out, spec, env, list(overrides))
    return found


@dataclass(frozen=True)
class Promotion:
    """`plan --from A --to B`: how the resolved specs differ, and B's plan (what it reuses)."""

    differences: SpecDiff
    plan: Plan


def plan_apps(
    folder: str | os.PathLike[str],
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    state: str | None = None,
    targets: Sequence[str] = (),
    tracking_uri: str | None = None,
    refresh: bool = True,
) -> AppPlans:
    """`plan DIR`: every app spec below ``folder`` in ``env``, one plan each (apps that do not
    declare the environment listed as skipped); targets are ``ADDRESS`` or ``APP/ADDRESS``."""
    from llmspec.engine.apps import plan_apps as plan_every

    return plan_every(
        folder, env, overrides, state=state, targets=targets, tracking_uri=tracking_uri,
        refresh=refresh,
    )  # fmt: skip


def apply_apps(
    folder: str | os.PathLike[str],
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    state: str | None = None,
    targets: Sequence[str] = (),
    lock_timeout: float | None = None,
    hook: Hook | None = None,
    tracking_uri: str | None = None,
    refresh: bool = True,
) -> tuple[list[ApplyResult], tuple[Skipped, ...]]:
    """`apply DIR`: every app below ``folder``, one after another, each under its own lock."""
    from llmspec.engine.apps import apply_apps as apply_every
    from llmspec.operate.rollout import announce

    results, skipped = apply_every(
        folder, env, overrides, state=state, targets=targets, lock_timeout=lock_timeout,
        hook=hook, tracking_uri=tracking_uri, refresh=refresh,
    )  # fmt: skip
    for result in results:
        if result.workspace is not None:
            announce(result.workspace, result.outcomes)
    return results, skipped


def plan_promotion(
    spec: str | os.PathLike[str],
    from_env: str,
    to_env: str,
    overrides: Sequence[str] = (),
    *,
    state: str | None = None,
    targets: Sequence[str] = (),
) -> Promotion:
    """`plan --from A --to B`: the resolved specs' differences, field by field (the same
    comparison as :func:`diff`), and B's plan, which shows what B reuses of what A built."""
    from llmspec.operate.diff import compare
    from llmspec.resolve.provenance import resolved_data

    source, target = resolve(spec, from_env, overrides), resolve(spec, to_env, overrides)
    differences = compare(resolved_data(source), resolved_data(target), from_env, to_env)
    return Promotion(differences, plan(target, state=state, targets=targets))


def apply(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    state: str | None = None,
    targets: Sequence[str] = (),
    lock_timeout: float | None = None,
    hook: Hook | None = None,
    tracking_uri: str | None = None,
    refresh: bool = True,
) -> ApplyResult:
    """Make the environment match the spec: plan under the lock, check approvals, execute in
    dependency order, record each finished resource at once. A path ending in `.json` is a
    plan saved by :func:`plan` (``out=``), applied only while it still holds (LS604)."""
    from llmspec.engine.apply import apply as execute

    saved = None
    if not isinstance(spec, ResolvedSpec) and str(spec).endswith(".json"):
        from llmspec.plans.saved import read_saved_plan

        saved = read_saved_plan(spec)
        spec, env, overrides = saved.spec, saved.env_option, saved.overrides
        targets = saved.targets or targets
    ws = open_workspace(spec, env, overrides, state=state, tracking_uri=tracking_uri)
    result = execute(
        ws,
        saved_plan=saved,
        lock_timeout=lock_timeout,
        targets=targets,
        hook=hook,
        refresh=refresh,
    )
    from llmspec.operate.rollout import announce

    announce(ws, result.outcomes)  # a rollout this apply started goes to the journal, webhooks
    return result


def approve(
    plan_file: str | os.PathLike[str], comment: str | None = None, *, state: str | None = None
) -> Approval:
    """Approve a saved plan as the acting user (`$LLMSPEC_USER`, else the login name)."""
    from llmspec.engine.approvals import approve as record
    from llmspec.plans.saved import read_saved_plan

    saved = read_saved_plan(plan_file)
    ws = open_workspace(saved.spec, saved.env_option, saved.overrides, state=state)
    return record(ws, saved, comment)


def destroy_plan(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    state: str | None = None,
) -> Plan:
    """What :func:`destroy` would remove: every recorded resource of the environment."""
    from llmspec.engine.destroy import destroy_plan as deletes

    return deletes(open_workspace(spec, env, overrides, state=state))


def destroy(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    state: str | None = None,
    confirmed: Plan | None = None,
    lock_timeout: float | None = None,
    hook: Hook | None = None,
    tracking_uri: str | None = None,
    refresh: bool = True,
) -> ApplyResult:
    """Remove what apply made, dependents first; with ``confirmed`` (the plan a person agreed
    to), only while the state still matches it (LS604)."""
    from llmspec.engine.destroy import destroy as remove

    ws = open_workspace(spec, env, overrides, state=state)
    return remove(ws, lock_timeout=lock_timeout, hook=hook, confirmed=confirmed)


def render(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    out: str | os.PathLike[str] | None = None,
) -> dict[FsPath, str]:
    """Write every resource's artifacts (default: `build/<app>/<env>/`) without applying;
    returns each written path with its digest. The same spec always gives the same bytes."""
    from llmspec.engine.render import write_artifacts

    ws = open_workspace(spec, env, overrides)
    folder = FsPath(out) if out is not None else ws.build_dir
    written: dict[FsPath, str] = {}
    for resource in ws.graph().resources.values():
        files = ws.steps[resource.kind].render(resource, ws.resolved.spec)
        for relative, digest in write_artifacts(folder, files).items():
            written[folder / relative] = digest
    return written


def rollback(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    state: str | None = None,
) -> Rollback:
    """Move the environment's alias back to the version before the last promotion."""
    from llmspec.kinds.promote.rollback import rollback as move_back

    return move_back(open_workspace(spec, env, overrides, state=state))


def locations(ws: Workspace) -> Locations:
    """Where to look at what apply made: the promoted model, the server's address, the MLflow
    store, the rendered files."""
    from llmspec.operate.locations import locations as where

    return where(ws)


# --- state ----------------------------------------------------------------------------------


def state_list(state: str | None = None, root: str | os.PathLike[str] = ".") -> list[AppState]:
    """Every app and environment a state backend records (the local one of the repository
    around ``root``, or ``state``)."""
    from llmspec.checks.context import repository_root
    from llmspec.core.layout import Layout
    from llmspec.engine.workspace import open_backend

    backend = open_backend(repository_root(FsPath(root).resolve()), "local", Layout.STATE, state)
    return [found for _, _, found in backend.list()]


def state_show(ws: Workspace, address: str | None = None) -> AppState:
    """The recorded state of a workspace's app in its environment; with ``address``, LS471
    unless that resource is recorded."""
    found = ws.backend.read(ws.app, ws.env)
    if address is not None and address not in found.resources:
        from llmspec.core.diagnostics import SpecError, did_you_mean, error

        message = f"`{address}` is not in the state of {ws.app} in {ws.env}"
        hint = did_you_mean(address, list(found.resources))
        raise SpecError([error("LS471", message, hint=hint)])
    return found


def unlock(ws: Workspace) -> Unlocked:
    """Break a lock left by a killed apply (check that its holder is gone first)."""
    from llmspec.engine.locking import unlock as break_lock

    return break_lock(ws)


def state_import(ws: Workspace, address: str, version: str | None = None) -> ResourceState:
    """`state import`: record an existing registered version (``version``), alias or LanceDB
    table as the resource ``address`` of the spec, building nothing (LS626 when it cannot)."""
    from llmspec.operate.adopt import adopt

    return adopt(ws, address, version)


def unmark(ws: Workspace, address: str) -> None:
    """Clear a retraining mark: LS471 for an address not recorded, LS623 when it is not
    marked, LS603 while an apply holds the lock."""
    from llmspec.core.diagnostics import SpecError, error
    from llmspec.engine.marks import unmark as clear

    state_show(ws, address)
    if not clear(ws, address):
        hint = f"`llmspec state show` lists the marks of {ws.app}"
        raise SpecError([error("LS623", f"`{address}` is not marked for rebuilding", hint=hint)])


# --- operate --------------------------------------------------------------------------------


def serve(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    state: str | None = None,
    host: str | None = None,
    port: int | None = None,
    api_key_env: str | None = None,
) -> Server:
    """Start the app server on the environment's alias and return once it is healthy; stop it
    with :func:`llmspec.operate.serve.stop`."""
    from llmspec.operate.serve import start

    ws = open_workspace(spec, env, overrides, state=state)
    return start(ws, host, port, api_key_env=api_key_env)


def predict(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    input: str | os.PathLike[str] | None,
    output: str | os.PathLike[str] | None,
    params: Mapping[str, Any] | None = None,
    state: str | None = None,
    progress: Any = None,
    backend: str = "local",
) -> BatchResult:
    """The promoted model over a file of records (jsonl, parquet, csv), written atomically;
    a record that fails keeps its row with an `error` (``BatchResult.failed``). ``backend``
    `ray`: on Ray Data, with the `kind: ray` target's pool (and its default input/output)."""
    from llmspec.operate.predict import run_predict

    ws = open_workspace(spec, env, overrides, state=state)
    return run_predict(ws, input, output, dict(params or {}), progress, backend)


def query(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    question: str,
    top_k: int | None = None,
    where: str | None = None,
    state: str | None = None,
) -> list[Any]:
    """Search the index apply built in the environment, at the version state records."""
    from llmspec.operate.query import query as search

    return search(open_workspace(spec, env, overrides, state=state), question, top_k, where)


def monitor(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    since: str = "24h",
    html: str | None = None,
    state: str | None = None,
) -> MonitorReport:
    """Figures of the served app's traces and feedback, its alerts held like gates; a firing
    `retrain` alert marks the fine-tune for the next plan."""
    from llmspec.operate.monitor import monitor as watch

    return watch(open_workspace(spec, env, overrides, state=state), since, html)


def audit(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    state: str | None = None,
) -> list[AuditEvent]:
    """The journal and the registry's versions of the app in the environment, oldest first."""
    from llmspec.operate.audit import audit as trail

    return trail(open_workspace(spec, env, overrides, state=state))


def diff(
    spec: str | os.PathLike[str],
    env: str | None = None,
    *,
    from_ref: str | None = None,
    env_a: str | None = None,
    env_b: str | None = None,
) -> SpecDiff:
    """The resolved, field-by-field difference between a git revision and the working tree
    (``from_ref``, in ``env``), or between two environments (``env_a``, ``env_b``)."""
    from llmspec.core.diagnostics import SpecError, error
    from llmspec.operate.diff import environments, revision

    if from_ref is not None and env_a is None and env_b is None:
        return revision(str(spec), env, from_ref)
    if from_ref is None and env_a is not None and env_b is not None:
        return environments(str(spec), env_a, env_b)
    if from_ref is None and (env_a is None) != (env_b is None):
        raise SpecError([error("LS001", "--env-a and --env-b go together")])
    raise SpecError(
        [
            error(
                "LS001",
                "give either --from-ref REF, or --env-a and --env-b",
                hint="llmspec diff SPEC -e prod --from-ref main, or "
                "llmspec diff SPEC --env-a staging --env-b prod",
            )
        ]
    )


@dataclass(frozen=True)
class Tried:
    """`llmspec try`: each question answered by the served version and by the edited spec."""

    run_id: str  # the MLflow run that logged the attempts
    model: str  # what the edited side ran on
    current: str  # the served version's model URI
    experiment: str
    attempts: list[Attempt]


def try_edits(
    spec: str | os.PathLike[str],
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    questions: Sequence[str],
    model: str | None = None,
    state: str | None = None,
) -> Tried:
    """Run ``questions`` through the spec with ``overrides`` beside the served version's
    answers, on ``model`` (a registered version or a base model) when given; logged to MLflow,
    never applied."""
    from llmspec.integrations.mlflow import experiment_name, quiet_mlflow
    from llmspec.kinds.promote.promoted import promoted_model
    from llmspec.operate.sandbox import edited_llm, log_try, parse_model, try_questions

    parsed = parse_model(model) if model else None  # LS850 before anything loads
    ws = open_workspace(spec, env, overrides, state=state)
    promoted = promoted_model(ws)
    quiet_mlflow()
    llm = edited_llm(parsed, promoted, ws) if parsed else None
    attempts = try_questions(ws.resolved, promoted, list(questions), llm)
    experiment = experiment_name(ws.resolved.spec, ws.app, ws.env, "sandbox")
    run_id = log_try(attempts, promoted, ws.app, ws.env, list(overrides), model, experiment)
    return Tried(run_id, model or promoted.uri, promoted.uri, experiment, attempts)


# the online loop: feedback, its export and harvest, rollouts
from llmspec.api.delivery import export_feedback as export_feedback  # noqa: E402
from llmspec.api.delivery import feedback as feedback  # noqa: E402
from llmspec.api.delivery import feedback_harvest as feedback_harvest  # noqa: E402
from llmspec.api.delivery import rollout_abort as rollout_abort  # noqa: E402
from llmspec.api.delivery import rollout_advance as rollout_advance  # noqa: E402
from llmspec.api.delivery import rollout_status as rollout_status  # noqa: E402
