"""The import path plug-ins used before the engine had its own room; kept so they load."""

from llmspec.steps import DeclareContext, Resource, ResourceDecl, RunContext, Step, StepFailed

__all__ = ["DeclareContext", "Resource", "ResourceDecl", "RunContext", "Step", "StepFailed"]
