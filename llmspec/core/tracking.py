"""Which MLflow tracking server a command talks to, decided once and in one order.

``--tracking-uri`` > ``MLFLOW_TRACKING_URI`` > the spec's ``tracking.uri`` > the repository's
local store (``sqlite:///.llmspec/mlflow.db``). A CI runner that exports the variable MLflow
documents reaches the team's server with no spec change, and the plan header says which one is in
use. The registry follows the same order with ``MLFLOW_REGISTRY_URI`` and ``tracking.registry_uri``,
and is the tracking server itself when neither is given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from llmspec.core.layout import Layout

__all__ = ["TrackingChoice", "choose_tracking", "is_remote"]


@dataclass(frozen=True)
class TrackingChoice:
    uri: str
    source: str  # "--tracking-uri", "MLFLOW_TRACKING_URI", "tracking.uri" or "default"
    registry_uri: str | None = None  # None: the tracking server's own registry

    def describe(self) -> str:
        where = "the local default" if self.source == "default" else self.source
        return f"{self.uri} (from {where})"


def choose_tracking(
    spec_uri: str | None,
    spec_registry_uri: str | None = None,
    flag: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> TrackingChoice:
    env = os.environ if environ is None else environ
    registry = env.get("MLFLOW_REGISTRY_URI") or spec_registry_uri
    for uri, source in (
        (flag, "--tracking-uri"),
        (env.get("MLFLOW_TRACKING_URI"), "MLFLOW_TRACKING_URI"),
        (spec_uri, "tracking.uri"),
    ):
        if uri:
            return TrackingChoice(uri, source, registry)
    return TrackingChoice(Layout.TRACKING_URI, "default", registry)


def is_remote(uri: str) -> bool:
    """A tracking server reached over HTTP (or Databricks): it decides where artifacts go, and a
    path on this machine would mean nothing to the next runner."""
    return uri.split(":", 1)[0] in {"http", "https", "databricks", "uc"}
