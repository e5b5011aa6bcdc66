"""Every app below a folder in one plan (and one apply): `llmspec plan specs/ -e prod`.

The app specs are the files `validate` would check (overlay files go with their spec and are
never planned alone; YAML that is not an ``LLMApp``, such as a repository policy, is left out).
An app that does not declare the environment is listed as skipped, never silently dropped. A
target names a resource in every app that has it (``index.help_center``), or in one app
(``support-bot/index.help_center``); a target no app has is an error. Each app is planned, and
applied, against its own state under its own lock, exactly as `plan SPEC` would.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmspec.core.diagnostics import Diagnostic, SpecError, did_you_mean, error
from llmspec.frontend import display_path, load, resolve
from llmspec.plans.planner import ACTIONS, Plan

if TYPE_CHECKING:
    from llmspec.engine.apply import ApplyResult
    from llmspec.engine.hooks import Hook
    from llmspec.engine.workspace import Workspace
    from llmspec.plans.graph import Graph

__all__ = ["AppPlans", "Skipped", "app_specs", "apply_apps", "plan_apps", "split_targets"]

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Skipped:
    spec: str
    app: str
    reason: str


@dataclass(frozen=True)
class AppPlans:
    env: str | None
    plans: tuple[Plan, ...]
    skipped: tuple[Skipped, ...] = ()

    @property
    def has_changes(self) -> bool:
        return any(p.has_changes for p in self.plans)

    def count(self, action: str) -> int:
        return sum(p.count(action) for p in self.plans)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "env": self.env,
            "apps": [p.to_json() for p in self.plans],
            "skipped": [s.__dict__ for s in self.skipped],
            "summary": {
                "apps": len(self.plans),
                "apps_with_changes": sum(p.has_changes for p in self.plans),
                **{a: self.count(a) for a in ACTIONS},
            },
        }


def app_specs(folder: str | os.PathLike[str]) -> list[tuple[Path, Any]]:
    """(path, loaded source) of every app spec below ``folder``, in path order."""
    from llmspec.source.discovery import find_specs

    paths, problems = find_specs([folder])
    if problems:
        raise SpecError(problems)
    found: list[tuple[Path, Any]] = []
    errors: list[Diagnostic] = []
    for path in paths:
        try:
            source = load(path)
        except SpecError as exc:
            errors.extend(exc.diagnostics)
            continue
        data = source.document.data
        if isinstance(data, dict) and data.get("kind") == "LLMApp":
            found.append((path, source))
    if errors:
        raise SpecError(errors)
    if not found:
        raise SpecError(
            [
                error(
                    "LS100",
                    f"no app spec (`kind: LLMApp`) below `{folder}`",
                    hint="`llmspec init NAME` scaffolds one",
                )
            ]
        )
    return found


def split_targets(targets: Sequence[str], graphs: dict[str, Iterable[str]]) -> dict[str, list[str]]:
    """Each app's targets; LS471 for a target no app has."""
    per_app: dict[str, list[str]] = {app: [] for app in graphs}
    problems: list[Diagnostic] = []
    for target in targets:
        app, slash, address = target.rpartition("/")
        hits = [
            name
            for name, addresses in graphs.items()
            if (not slash or name == app) and address in set(addresses)
        ]
        if not hits:
            everything = sorted({f"{n}/{a}" for n, addresses in graphs.items() for a in addresses})
            problems.append(
                error(
                    "LS471",
                    f"`{target}` is not a resource of any app planned",
                    hint=did_you_mean(target, everything)
                    or "name `ADDRESS` (every app that has it) or `APP/ADDRESS`",
                )
            )
        for name in hits:
            per_app[name].append(address)
    if problems:
        raise SpecError(problems)
    return per_app


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
    """Every app's plan; SpecError with every app's problems when any spec is invalid."""
    workspaces, skipped = _workspaces(folder, env, overrides, state, tracking_uri)
    plans = [ws.plan(chosen, graph)[1] for ws, graph, chosen in _targeted(workspaces, targets)]
    return AppPlans(env, tuple(plans), tuple(skipped))


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
    """Apply every app in path order, each under its own lock; a failed app does not stop the
    others (they share nothing but the servers)."""
    from llmspec.engine.apply import apply

    workspaces, skipped = _workspaces(folder, env, overrides, state, tracking_uri)
    results = [
        apply(ws, lock_timeout=lock_timeout, targets=chosen, hook=hook, refresh=refresh)
        for ws, _, chosen in _targeted(workspaces, targets)
    ]
    return results, tuple(skipped)


def _workspaces(
    folder: str | os.PathLike[str],
    env: str | None,
    overrides: Sequence[str],
    state: str | None,
    tracking_uri: str | None,
) -> tuple[list[Workspace], list[Skipped]]:
    from llmspec.engine.workspace import open_workspace

    workspaces: list[Workspace] = []
    skipped: list[Skipped] = []
    problems: list[Diagnostic] = []
    for path, source in app_specs(folder):
        name = str(source.document.data.get("metadata", {}).get("name", path.stem))
        declared = source.document.data.get("environments") or {}
        if env is not None and env not in declared and not _has_overlay_file(path, env):
            skipped.append(Skipped(display_path(path), name, f"no environment `{env}`"))
            continue
        try:
            resolved = resolve(source, env, overrides)
        except SpecError as exc:
            problems.extend(exc.diagnostics)
            continue
        workspaces.append(open_workspace(resolved, state, tracking_uri))
    if problems:
        raise SpecError(problems)
    return workspaces, skipped


def _targeted(
    workspaces: list[Workspace], targets: Sequence[str]
) -> Iterator[tuple[Workspace, Graph, list[str]]]:
    """Each app with its graph and its share of the targets (apps with none left out)."""
    graphs = {ws.app: ws.graph() for ws in workspaces}
    chosen = split_targets(targets, {app: g.resources for app, g in graphs.items()})
    for ws in workspaces:
        if targets and not chosen[ws.app]:
            continue  # the targets are elsewhere: this app is not part of the plan
        yield ws, graphs[ws.app], chosen[ws.app]


def _has_overlay_file(path: Path, env: str) -> bool:
    return any(path.with_name(f"{path.stem}.{env}{s}").is_file() for s in (".yaml", ".yml"))
