#!/bin/sh
# Rendered by llmspec for support-bot (sha256:b75d02e86a43ec1178d5fa01db69572cf8e9e501c7932f693e5e637dd963705c): serve models:/support-bot@dev locally, as
# `llmspec serve` does: MLflow's scoring routes plus the OpenAI-compatible ones.
export LLMSPEC_MODEL_URI="models:/support-bot@dev"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5001 --workers 1
