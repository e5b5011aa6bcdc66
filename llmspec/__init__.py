"""llmspec: one YAML spec per LLM application, compiled into everything it needs.

The public API (imported lazily so that `import llmspec` stays cheap)::

    llmspec.load(path)                 -> SourceSpec   (stage 1; raises SpecError)
    llmspec.resolve(path, env, sets)   -> ResolvedSpec (validated and checked; raises SpecError)
    llmspec.validate(paths, envs)      -> Report       (never raises for spec problems)
    llmspec.explain(resolved, "a.b")   -> [Provenance]
    llmspec.json_schema()              -> dict
    llmspec.authoring.scaffold(name, folder)     -> [written paths]
"""

from __future__ import annotations

from typing import Any

from llmspec.core.diagnostics import Diagnostic, Severity, Span, SpecError
from llmspec.version import __version__

__all__ = [
    "Diagnostic",
    "Severity",
    "Span",
    "SpecError",
    "__version__",
    "explain",
    "json_schema",
    "load",
    "resolve",
    "scaffold",
    "validate",
]

_LAZY = {
    "load": "llmspec.api",
    "resolve": "llmspec.api",
    "validate": "llmspec.api",
    "explain": "llmspec.explain",
    "json_schema": "llmspec.authoring.schema",
    "scaffold": "llmspec.authoring.scaffold",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmspec' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
