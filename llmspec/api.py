"""The public Python API: everything the CLI does, callable from Python."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath

from llmspec.core.diagnostic_views import SourceLines, unique
from llmspec.core.diagnostics import Diagnostic, Severity
from llmspec.frontend import Outcome, ResolvedSpec, SourceSpec, load, resolve, validate_file
from llmspec.source.discovery import find_specs

__all__ = ["Report", "ResolvedSpec", "SourceSpec", "load", "resolve", "validate"]


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
