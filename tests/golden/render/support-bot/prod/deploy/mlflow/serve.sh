#!/bin/sh
# Rendered by llmspec for support-bot (sha256:87b7b29c889f8d7d91211e2e5fb1d9b90eedf4ffe12cf7ed67ec0c4070713fca): serve models:/support-bot@champion locally, as
# `llmspec serve` does: MLflow's scoring routes plus the OpenAI-compatible ones.
export LLMSPEC_MODEL_URI="models:/support-bot@champion"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5001 --workers 1
