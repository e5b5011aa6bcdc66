"""The stages from a spec file to a checked :class:`Spec`, in the one order they run.

    load -> select environment -> apply --set overrides -> interpolate -> validate -> check

Each stage collects every problem it finds and raises one :class:`SpecError`; a stage runs only
on its predecessor's clean output, since an overlay alone is not a valid spec and a spec that
fails the schema cannot be checked for meaning.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from llmspec.checks.context import CheckContext, repository_root
from llmspec.core.diagnostic_views import SourceLines, unique
from llmspec.core.diagnostics import Diagnostic, Severity, SpecError, has_errors
from llmspec.resolve.interpolate import interpolate
from llmspec.resolve.overlay import (
    apply_overrides,
    environment_names,
    overlay_files,
    select_environment,
)
from llmspec.source.discovery import find_specs
from llmspec.source.document import Document
from llmspec.source.loader import load_file

if TYPE_CHECKING:
    from llmspec.spec import Spec

STAGES = ("load", "select_environment", "apply_overrides", "interpolate", "validate", "check")


@dataclass(frozen=True)
class SourceSpec:
    """A loaded spec file with the environments it declares (stage 1's output)."""

    path: FsPath
    document: Document
    overlays: Mapping[str, FsPath]

    @property
    def environments(self) -> list[str]:
        return environment_names(self.document, self.overlays)


@dataclass(frozen=True)
class ResolvedSpec:
    """A validated, checked spec for one environment (``env`` None: the base spec)."""

    spec: Spec
    document: Document
    env: str | None
    path: FsPath
    diagnostics: tuple[Diagnostic, ...]  # warnings; errors raise instead
    overrides: tuple[str, ...] = ()  # the --set overrides it was resolved with


def display_path(path: FsPath) -> str:
    """Paths in diagnostics are relative to the working directory when they are below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path) if relative.startswith("..") else relative


def load(path: str | os.PathLike[str]) -> SourceSpec:
    """Stage 1: read the spec (and find its overlay files); raises SpecError."""
    fs = FsPath(path)
    document = load_file(fs, display_path(fs))
    return SourceSpec(fs, document, overlay_files(fs))


def resolve(
    source: SourceSpec | str | os.PathLike[str],
    env: str | None = None,
    overrides: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    memo: dict[Any, Any] | None = None,
) -> ResolvedSpec:
    """Stages 2-6 for one environment; raises SpecError listing every problem found.

    ``memo`` shares filesystem facts between calls for the same spec (see CheckContext).
    """
    if not isinstance(source, SourceSpec):
        source = load(source)
    doc = source.document
    if env is not None:
        doc = select_environment(doc, env, source.overlays, display_path)
    if overrides:
        from llmspec.spec.paths import field_names

        doc = apply_overrides(doc, overrides, field_names)
    doc = interpolate(doc, environ)
    spec = validate_document(doc)
    spec_dir = FsPath(os.path.realpath(source.path)).parent
    context = CheckContext(
        spec, doc, spec_dir, repository_root(spec_dir), env, {} if memo is None else memo
    )
    found = check(context)
    if has_errors(found):
        raise SpecError(found)
    return ResolvedSpec(spec, doc, env, source.path, tuple(found), tuple(overrides))


def validate_document(doc: Document) -> Spec:
    """Stage 5: the schema, with every error positioned in the source."""
    from pydantic import ValidationError

    from llmspec.spec import Spec
    from llmspec.spec.compiled import prepare
    from llmspec.spec.errors import diagnostics_from

    prepare(Spec)
    try:
        return Spec.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(diagnostics_from(exc, doc, Spec)) from None


def check(ctx: CheckContext) -> list[Diagnostic]:
    """Stage 6: semantic checks across sections."""
    from llmspec.checks import run_checks

    return run_checks(ctx)


@dataclass(frozen=True)
class Outcome:
    """The result of validating one spec in one environment."""

    path: FsPath
    env: str | None
    resolved: ResolvedSpec | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def validate_file(
    path: FsPath,
    envs: Iterable[str] | None = None,
    overrides: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> list[Outcome]:
    """Validate one spec: the base and every declared environment, or only ``envs``."""
    try:
        source = load(path)
    except SpecError as exc:
        return [Outcome(path, None, None, exc.diagnostics)]
    targets: list[str | None] = list(envs) if envs else [None, *source.environments]
    outcomes = []
    memo: dict[Any, Any] = {}
    for env in targets:
        try:
            resolved = resolve(source, env, overrides, environ, memo)
            outcomes.append(Outcome(path, env, resolved, resolved.diagnostics))
        except SpecError as exc:
            outcomes.append(Outcome(path, env, None, exc.diagnostics))
    return outcomes


@dataclass
class Report:
    """What `validate` found: one outcome per spec and environment, and their diagnostics."""

    outcomes: list[Outcome] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)  # paths that do not exist
    sources: SourceLines = field(default_factory=SourceLines)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        every = list(self.problems)
        for outcome in self.outcomes:
            every.extend(outcome.diagnostics)
        return unique(every)

    @property
    def specs(self) -> list[FsPath]:
        return list(dict.fromkeys(o.path for o in self.outcomes))

    @property
    def checked(self) -> int:
        return len(self.outcomes)

    @property
    def errors(self) -> int:
        return sum(d.is_error for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        return sum(d.severity is Severity.WARNING for d in self.diagnostics)

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def summary(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for o in self.outcomes:
            out.setdefault(str(o.path), {})[o.env or "base"] = "ok" if o.ok else "error"
        return out


def validate(
    paths: Iterable[str | os.PathLike[str]],
    envs: Sequence[str] | None = None,
    overrides: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Report:
    """Validate spec files and folders: the base and every declared environment of each,
    or only ``envs``. Never raises for a problem in a spec; read ``Report.diagnostics``."""
    files, problems = find_specs(paths)
    report = Report(problems=problems)
    for path in files:
        outcomes = validate_file(path, envs, overrides, environ)
        report.outcomes.extend(outcomes)
        for outcome in outcomes:
            if outcome.resolved is not None:
                report.sources.add(outcome.resolved.document.sources)
    return report
