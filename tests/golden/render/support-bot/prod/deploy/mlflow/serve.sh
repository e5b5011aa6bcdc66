#!/bin/sh
# Rendered by llmspec for support-bot (sha256:7298b72b23d577001299d91b75ebdacb51201be3f48f6f15d52f737203c65c6d): serve models:/support-bot@champion locally, as
# `llmspec serve` does: MLflow's scoring routes, the OpenAI-compatible ones and /metrics.# `serving.runtime: vllm`: `llmspec serve` also starts vLLM; here, point the app at one with
# LLMSPEC_LLM_URL (its /v1) and LLMSPEC_LLM_MODEL (the adapter's name there).export LLMSPEC_MODEL_URI="models:/support-bot@champion" LLMSPEC_SERVED_NAME="support-bot"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5001 --workers 1
