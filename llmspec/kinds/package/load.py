"""Load a packaged app (the pyfunc model) where llmspec runs it: evaluation, batch prediction."""

from __future__ import annotations

import warnings
from typing import Any

from llmspec.core.diagnostics import SpecError, error


def load_app_model(uri: str, tracking_uri: str | None = None) -> Any:
    """The pyfunc model at ``uri``; a secret its model needs and this process lacks is LS811."""
    from llmspec.integrations.mlflow import quiet_mlflow

    quiet_mlflow()
    import mlflow

    from llmspec.runtime.llm import MissingSecret

    if tracking_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    try:
        with warnings.catch_warnings():  # MLflow's notices about the environment it runs in
            warnings.simplefilter("ignore")
            return mlflow.pyfunc.load_model(uri)
    except MissingSecret as exc:
        raise SpecError(
            [
                error(
                    "LS811",
                    f"{uri} cannot be loaded: {exc}",
                    hint="export it in this shell; a served model reads it from the server's "
                    "environment",
                )
            ]
        ) from exc
