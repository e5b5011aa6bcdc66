#!/bin/sh
# Rendered by llmspec for support-bot (sha256:78c26dc07d42e10370d216395b382919c3a488488b7ae114322367b7cef5ec71): serve models:/support-bot@champion locally, as
# `llmspec serve` does: MLflow's scoring routes, the OpenAI-compatible ones and /metrics.# `serving.runtime: vllm`: `llmspec serve` also starts vLLM; here, point the app at one with
# LLMSPEC_LLM_URL (its /v1) and LLMSPEC_LLM_MODEL (the adapter's name there).export LLMSPEC_MODEL_URI="models:/support-bot@champion" LLMSPEC_SERVED_NAME="support-bot"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5001 --workers 1
