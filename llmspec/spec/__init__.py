"""The spec models (pydantic v2): the types `validate` produces and every later stage reads.
May import core and source."""

from llmspec.spec.root import API_VERSION, EnvironmentOverlay, Spec

__all__ = ["API_VERSION", "EnvironmentOverlay", "Spec"]
