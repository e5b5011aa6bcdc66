#!/bin/sh
# Rendered by llmspec for support-bot (sha256:301ed9b61b02fc197c2c3eee42afc88f4909e770bdd641b7de6dec5882d3b243): serve models:/support-bot@champion locally, as
# `llmspec serve` does: MLflow's scoring routes plus the OpenAI-compatible ones.
export LLMSPEC_MODEL_URI="models:/support-bot@champion"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5001 --workers 1
