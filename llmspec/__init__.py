"""llmspec: one YAML spec per LLM application, compiled into everything it needs.

The public API is the CLI's twin (imported lazily, so that `import llmspec` stays cheap); every
call returns a typed result and raises :class:`SpecError` with diagnostics::

    llmspec.load(path)                          -> SourceSpec     (stage 1)
    llmspec.resolve(path, env, overrides)       -> ResolvedSpec   (validated and checked)
    llmspec.validate(paths, envs)               -> Report         (never raises for spec problems)
    llmspec.explain(resolved, "a.b")            -> [Provenance]
    llmspec.plan(spec, env, targets=, out=)     -> Plan
    llmspec.apply(spec | "plan.json", env, hook=) -> ApplyResult
    llmspec.approve("plan.json", comment)       -> Approval
    llmspec.destroy(spec, env, confirmed=)      -> ApplyResult
    llmspec.render(spec, env, out=)             -> {path: digest}
    llmspec.rollback(spec, env)                 -> Rollback
    llmspec.serve / predict / query / monitor / feedback / export_feedback / audit / diff /
    try_edits                                   (see llmspec.api)
    llmspec.json_schema()                       -> dict
    llmspec.scaffold(name, folder)              -> [written paths]

Plug-in step kinds import their interface from :mod:`llmspec.steps`.
"""

from __future__ import annotations

from typing import Any

from llmspec.core.diagnostics import Diagnostic, Severity, Span, SpecError
from llmspec.version import __version__

_API = (
    "apply",
    "apply_apps",
    "approve",
    "audit",
    "destroy",
    "destroy_plan",
    "diff",
    "explain",
    "export_feedback",
    "feedback",
    "feedback_harvest",
    "init",
    "load",
    "locations",
    "monitor",
    "open_workspace",
    "plan",
    "plan_apps",
    "plan_promotion",
    "predict",
    "query",
    "render",
    "resolve",
    "rollback",
    "rollout_abort",
    "rollout_advance",
    "rollout_status",
    "schema_files",
    "serve",
    "show",
    "state_import",
    "state_list",
    "state_show",
    "try_edits",
    "unlock",
    "unmark",
    "validate",
)
__all__ = [
    "Diagnostic",
    "Severity",
    "Span",
    "SpecError",
    "__version__",
    "json_schema",
    "scaffold",
    *_API,
]

_LAZY = {
    **dict.fromkeys(_API, "llmspec.api"),
    "json_schema": "llmspec.authoring.schema",
    "scaffold": "llmspec.authoring.scaffold",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmspec' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
