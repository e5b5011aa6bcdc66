"""Production traffic: the traces the app server wrote for an environment's promoted model,
read from its MLflow experiment. Monitor and feedback export read it here."""

from __future__ import annotations

from typing import Any

from llmspec.engine.workspace import Workspace
from llmspec.kinds.promote.promoted import promoted_model


def served_traces(ws: Workspace, since_ms: int) -> list[Any]:
    """Every trace of the environment's experiment since ``since_ms`` (epoch milliseconds);
    LS810 before the first promotion."""
    from llmspec.integrations.mlflow import client_for, experiment_for, search_traces

    promoted = promoted_model(ws)
    client = client_for(promoted.tracking_uri)
    experiment = experiment_for(client, ws.resolved.spec, ws.app, ws.env, ws.repo_root)
    return search_traces(promoted.tracking_uri, experiment, since_ms)
