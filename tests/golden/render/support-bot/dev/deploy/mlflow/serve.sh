#!/bin/sh
# Rendered by llmspec for support-bot (sha256:dc2a75bc6c2572f6667b05142167d4694c6b6efe32ca71f091b064764aa35c77): serve models:/support-bot@dev locally, as
# `llmspec serve` does: MLflow's scoring routes, the OpenAI-compatible ones and /metrics.export LLMSPEC_MODEL_URI="models:/support-bot@dev" LLMSPEC_SERVED_NAME="support-bot"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5001 --workers 1
