"""Kept for plug-ins that subclass the built-in kind: it lives in `llmspec.kinds.deploy.step`."""

from llmspec.kinds.deploy.step import DeployStep

__all__ = ["DeployStep"]
