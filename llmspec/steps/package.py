"""Kept for plug-ins that subclass the built-in kind: it lives in `llmspec.kinds.package.step`."""

from llmspec.kinds.package.step import PackageStep

__all__ = ["PackageStep"]
