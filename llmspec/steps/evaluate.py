"""Kept for plug-ins that subclass the built-in kind: it lives in `llmspec.kinds.evaluate.step`."""

from llmspec.kinds.evaluate.step import EvalStep

__all__ = ["EvalStep"]
