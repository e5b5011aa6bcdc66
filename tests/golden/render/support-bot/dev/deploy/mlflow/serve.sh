#!/bin/sh
# Rendered by llmspec for support-bot (sha256:d74d5fe85080adb9f27fed0aac26345c69fc7fd870a4cf6b20502c896fe2b1ea): serve models:/support-bot@dev locally, as
# `llmspec serve` does: MLflow's scoring routes, the OpenAI-compatible ones and /metrics.export LLMSPEC_MODEL_URI="models:/support-bot@dev" LLMSPEC_SERVED_NAME="support-bot"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5001 --workers 1
