#!/bin/sh
# Rendered by llmspec for docs-assistant (sha256:5c82b947404aa8ead6d5c4939e5730ec60ec40282986198cb2158cffb1898fe6): serve models:/docs-assistant@challenger locally, as
# `llmspec serve` does: MLflow's scoring routes plus the OpenAI-compatible ones.
export LLMSPEC_MODEL_URI="models:/docs-assistant@challenger"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5002 --workers 1
