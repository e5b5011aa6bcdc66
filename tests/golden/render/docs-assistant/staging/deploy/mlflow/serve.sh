#!/bin/sh
# Rendered by llmspec for docs-assistant (sha256:583a2d35012e50c2b392ca15f2475717f5d5abbfb52290495512c05dd56fddf3): serve models:/docs-assistant@challenger locally, as
# `llmspec serve` does: MLflow's scoring routes, the OpenAI-compatible ones and /metrics.export LLMSPEC_MODEL_URI="models:/docs-assistant@challenger" LLMSPEC_SERVED_NAME="docs-assistant"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5002 --workers 1
