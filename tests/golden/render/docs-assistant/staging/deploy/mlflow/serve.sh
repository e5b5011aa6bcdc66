#!/bin/sh
# Rendered by llmspec for docs-assistant (sha256:972e0b6c9a015c713b7ed8f8891f360c92691b8a102b5e7da37646c0e02c95cf): serve models:/docs-assistant@challenger locally, as
# `llmspec serve` does: MLflow's scoring routes plus the OpenAI-compatible ones.
export LLMSPEC_MODEL_URI="models:/docs-assistant@challenger"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5002 --workers 1
