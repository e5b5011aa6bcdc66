"""Kept for plug-ins that subclass the built-in kind: it lives in `llmspec.kinds.dataset.step`."""

from llmspec.kinds.dataset.step import DatasetStep

__all__ = ["DatasetStep"]
