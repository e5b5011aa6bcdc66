#!/bin/sh
# Rendered by llmspec for support-bot (sha256:24698edbe95b745494702dfb40a83c07832ebbd4ec1d0262a145dc6049b446db): serve models:/support-bot@dev locally, as
# `llmspec serve` does: MLflow's scoring routes plus the OpenAI-compatible ones.
export LLMSPEC_MODEL_URI="models:/support-bot@dev"
exec python -m uvicorn --factory llmspec.runtime.server:create_app --host 127.0.0.1 --port 5001 --workers 1
