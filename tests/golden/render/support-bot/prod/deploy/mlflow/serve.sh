#!/bin/sh
# Rendered by llmspec for support-bot (sha256:531148fa42a1019ff90df04a9156157b434755ba1ec54191361d756d8082b08e): serve models:/support-bot@champion locally, as
# `llmspec serve` does: MLflow's scoring routes plus the OpenAI-compatible ones.
export LLMSPEC_MODEL_URI="models:/support-bot@champion"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5001 --workers 1
