"""The plug-in interface: what a third-party step kind imports.

A plug-in package adds or replaces a kind with an entry point in the group ``llmspec.steps``
naming a :class:`Step` subclass or instance. The engine keeps the interface in
:mod:`llmspec.engine.step` and the registry in :mod:`llmspec.engine.registry`; this name is the
stable import path for plug-ins.
"""

from llmspec.engine.registry import ENTRY_POINT_GROUP, register, registry, reset
from llmspec.engine.step import (
    DeclareContext,
    Resource,
    ResourceDecl,
    RunContext,
    Step,
    StepFailed,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "DeclareContext",
    "Resource",
    "ResourceDecl",
    "RunContext",
    "Step",
    "StepFailed",
    "register",
    "registry",
    "reset",
]
