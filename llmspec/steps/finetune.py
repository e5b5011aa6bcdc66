"""Kept for plug-ins that subclass the built-in kind: it lives in `llmspec.kinds.finetune.step`."""

from llmspec.kinds.finetune.step import FinetuneStep

__all__ = ["FinetuneStep"]
