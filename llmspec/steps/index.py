"""Kept for plug-ins that subclass the built-in kind: it lives in `llmspec.kinds.index.step`."""

from llmspec.kinds.index.step import IndexStep

__all__ = ["IndexStep"]
