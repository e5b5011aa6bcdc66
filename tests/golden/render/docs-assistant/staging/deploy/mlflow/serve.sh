#!/bin/sh
# Rendered by llmspec for docs-assistant (sha256:dfb5eccf15715b39f0c4512501f9781949c8745ed7788d93aac5970bef900ea3): serve models:/docs-assistant@challenger locally, as
# `llmspec serve` does: MLflow's scoring routes plus the OpenAI-compatible ones.
export LLMSPEC_MODEL_URI="models:/docs-assistant@challenger"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5002 --workers 1
