#!/bin/sh
# Rendered by llmspec for support-bot (sha256:4cf84f60efe4de08ba2125e9f65d525a8f148d972744fd6d74787b01b3c61301): serve models:/support-bot@champion locally, as
# `llmspec serve` does: MLflow's scoring routes, the OpenAI-compatible ones and /metrics.# `serving.runtime: vllm`: `llmspec serve` also starts vLLM; here, point the app at one with
# LLMSPEC_LLM_URL (its /v1) and LLMSPEC_LLM_MODEL (the adapter's name there).export LLMSPEC_MODEL_URI="models:/support-bot@champion" LLMSPEC_SERVED_NAME="support-bot"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5001 --workers 1
