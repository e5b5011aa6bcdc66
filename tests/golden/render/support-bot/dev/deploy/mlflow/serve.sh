#!/bin/sh
# Rendered by llmspec for support-bot (sha256:573296a7d31162597787fd098ec0b8ed3bc620df986872794ed2fab8557db51f): serve models:/support-bot@dev locally, as
# `llmspec serve` does: MLflow's scoring routes plus the OpenAI-compatible ones.
export LLMSPEC_MODEL_URI="models:/support-bot@dev"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5001 --workers 1
