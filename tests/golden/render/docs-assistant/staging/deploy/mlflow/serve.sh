#!/bin/sh
# Rendered by llmspec for docs-assistant (sha256:82cb521c596b28aa82ba70f819db6b1ea4f5c24c5620051579099e1cc61973b9): serve models:/docs-assistant@challenger locally, as
# `llmspec serve` does: MLflow's scoring routes plus the OpenAI-compatible ones.
export LLMSPEC_MODEL_URI="models:/docs-assistant@challenger"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5002 --workers 1
