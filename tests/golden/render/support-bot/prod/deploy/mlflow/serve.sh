#!/bin/sh
# Rendered by llmspec for support-bot (sha256:71d4b0e325f9fe14875e3a61a4f006d440341d56a3598c5ed854184e64b69211): serve models:/support-bot@champion locally, as
# `llmspec serve` does: MLflow's scoring routes plus the OpenAI-compatible ones.
export LLMSPEC_MODEL_URI="models:/support-bot@champion"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5001 --workers 1
