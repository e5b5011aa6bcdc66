#!/bin/sh
# Rendered by llmspec for support-bot (sha256:22cdc4b34fa32b30a8e5003bd6be17c63b8158208f5c4524fca3119de136eee3): serve models:/support-bot@dev locally, as
# `llmspec serve` does: MLflow's scoring routes, the OpenAI-compatible ones and /metrics.export LLMSPEC_MODEL_URI="models:/support-bot@dev" LLMSPEC_SERVED_NAME="support-bot"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5001 --workers 1
