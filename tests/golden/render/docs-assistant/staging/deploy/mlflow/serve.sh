#!/bin/sh
# Rendered by llmspec for docs-assistant (sha256:c4000a8631be4b7fd94ffdfefd03d023ca61831dcf5703dcb6883672f8936f9b): serve models:/docs-assistant@challenger locally, as
# `llmspec serve` does: MLflow's scoring routes, the OpenAI-compatible ones and /metrics.export LLMSPEC_MODEL_URI="models:/docs-assistant@challenger" LLMSPEC_SERVED_NAME="docs-assistant"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5002 --workers 1
