"""The spec models (pydantic v2): the types `validate` produces and every later stage reads."""

from llmspec.spec.root import API_VERSION, EnvironmentOverlay, Spec

__all__ = ["API_VERSION", "EnvironmentOverlay", "Spec"]
