"""Stage 4: semantic checks across sections, run in this order on a validated spec.

Each check is a plain function ``(CheckContext) -> Iterable[Diagnostic]`` and reads, never writes.
May import core, source and spec.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from llmspec.checks import (
    budget,
    corpus,
    finetune,
    governance,
    metrics,
    paths,
    references,
    rollout,
    serving,
    templates,
)
from llmspec.checks.context import CheckContext
from llmspec.core.diagnostics import Diagnostic

Check = Callable[[CheckContext], Iterable[Diagnostic]]

CHECKS: tuple[Check, ...] = (
    templates.check_templates,
    references.check_references,
    corpus.check_corpus,
    metrics.check_metrics,
    finetune.check_finetune,
    paths.check_paths,
    governance.check_governance,
    budget.check_budget,
    serving.check_serving,
    rollout.check_rollout,
)


def run_checks(ctx: CheckContext) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for check in CHECKS:
        found.extend(check(ctx))
    return found


__all__ = ["CHECKS", "CheckContext", "run_checks"]
