"""Step kinds: the explicit registry of built-in kinds, plus plug-ins from entry points.

A plug-in package adds or replaces a kind with an entry point in the group ``llmspec.steps``
naming a :class:`~llmspec.engine.step.Step` subclass or instance.
"""

from __future__ import annotations

from llmspec.engine.step import Step

ENTRY_POINT_GROUP = "llmspec.steps"
# Declaration order is the order resources are listed in a plan with no dependencies between them.
BUILTIN = (
    "llmspec.kinds.dataset.step:DatasetStep",
    "llmspec.kinds.index.step:IndexStep",
    "llmspec.kinds.finetune.step:FinetuneStep",
    "llmspec.kinds.package.step:PackageStep",
    "llmspec.kinds.evaluate.step:EvalStep",
    "llmspec.kinds.promote.step:PromoteStep",
    "llmspec.kinds.deploy.step:DeployStep",
)
_registry: dict[str, Step] | None = None


def _load(target: str) -> Step:
    import importlib

    module, _, name = target.partition(":")
    obj = getattr(importlib.import_module(module), name)
    return obj() if isinstance(obj, type) else obj  # type: ignore[no-any-return]


def registry() -> dict[str, Step]:
    """Every step kind by name: built-ins, then plug-ins (which may replace a built-in)."""
    global _registry
    if _registry is None:
        steps = [_load(target) for target in BUILTIN]
        from importlib.metadata import entry_points

        for entry in entry_points(group=ENTRY_POINT_GROUP):
            loaded = entry.load()
            steps.append(loaded() if isinstance(loaded, type) else loaded)
        _registry = {step.kind: step for step in steps}
    return _registry


def register(step: Step) -> Step | None:
    """Add or replace a step kind at run time (tests, embedding applications); returns the
    kind it replaced."""
    steps = registry()
    previous = steps.get(step.kind)
    steps[step.kind] = step
    return previous


def reset() -> None:
    """Forget run-time registrations (back to built-ins and entry points)."""
    global _registry
    _registry = None
