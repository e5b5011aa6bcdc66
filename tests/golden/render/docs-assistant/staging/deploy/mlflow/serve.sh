#!/bin/sh
# Rendered by llmspec for docs-assistant (sha256:c28b383cb1737f177c5ae32e23110164875c75038b2881e928c9322fac5ce519): serve models:/docs-assistant@challenger locally, as
# `llmspec serve` does: MLflow's scoring routes, the OpenAI-compatible ones and /metrics.export LLMSPEC_MODEL_URI="models:/docs-assistant@challenger" LLMSPEC_SERVED_NAME="docs-assistant"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5002 --workers 1
