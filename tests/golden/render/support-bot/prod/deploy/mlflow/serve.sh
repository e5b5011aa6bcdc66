#!/bin/sh
# Rendered by llmspec for support-bot (sha256:e8748bd2f45a51d5b16955d9a85c3dc59d313c50879a6bb721b9f5b0c4278c29): serve models:/support-bot@champion locally, as
# `llmspec serve` does: MLflow's scoring routes, the OpenAI-compatible ones and /metrics.# `serving.runtime: vllm`: `llmspec serve` also starts vLLM; here, point the app at one with
# LLMSPEC_LLM_URL (its /v1) and LLMSPEC_LLM_MODEL (the adapter's name there).export LLMSPEC_MODEL_URI="models:/support-bot@champion" LLMSPEC_SERVED_NAME="support-bot"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5001 --workers 1
