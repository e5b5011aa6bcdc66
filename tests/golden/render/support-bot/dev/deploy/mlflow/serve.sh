#!/bin/sh
# Rendered by llmspec for support-bot (sha256:f43cb1579b0db3344a7bddd334595e4e9157fb224ff46e39cd60395463918fb8): serve models:/support-bot@dev locally, as
# `llmspec serve` does: MLflow's scoring routes plus the OpenAI-compatible ones.
export LLMSPEC_MODEL_URI="models:/support-bot@dev"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5001 --workers 1
