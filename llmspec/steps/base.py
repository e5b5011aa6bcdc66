"""The import path plug-ins used before the engine had its own room; kept so they load."""

from llmspec.engine.step import DEFAULT_ENV
from llmspec.steps import DeclareContext, Resource, ResourceDecl, RunContext, Step, StepFailed

__all__ = [
    "DEFAULT_ENV",
    "DeclareContext",
    "Resource",
    "ResourceDecl",
    "RunContext",
    "Step",
    "StepFailed",
]
