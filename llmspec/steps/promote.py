"""Kept for plug-ins that subclass the built-in kind: it lives in `llmspec.kinds.promote.step`."""

from llmspec.kinds.promote.step import PromoteStep

__all__ = ["PromoteStep"]
