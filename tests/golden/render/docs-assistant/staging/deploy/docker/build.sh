#!/bin/sh
# Rendered by llmspec for docs-assistant: the serving image of models:/docs-assistant@challenger.
# Inputs digest: sha256:e7e4b5723604952b47892ba1f521d0f23a13c5970469888a56525f8b1b5c570e
#
# MLflow's own generator writes the Dockerfile for the version the alias points at when this
# runs: a Python base, MLflow, the model (with llmspec's runtime beside it) and its pinned
# requirements. Its entrypoint becomes llmspec's app server on port 8080, what `llmspec serve`
# runs: MLflow's /invocations, the OpenAI routes, traces, feedback and /metrics. The target's
# environment is added after it; secrets are never baked in.#
#   MLFLOW_TRACKING_URI=<the registry> sh build.sh [CONTEXT_DIR]
#   BUILD=0 sh build.sh ...   writes the build context only (no docker build)
set -eu
context="${1:-$(dirname "$0")/context}"
rm -rf "$context"
python -m mlflow models generate-dockerfile -m 'models:/docs-assistant@challenger' --env-manager local -d "$context"
cat >> "$context/Dockerfile" <<'LLMSPEC'

# Added by llmspec: the app server on the model copied above, and the target's environment
ENV PYTHONPATH=/opt/ml/model/code LLMSPEC_MODEL_URI=/opt/ml/model LLMSPEC_SERVED_NAME="docs-assistant"
# PROVIDER_API_KEY is a secret: pass it at run time (docker run -e PROVIDER_API_KEY=...)
LABEL org.opencontainers.image.title="docs-assistant" ai.llmspec.model="models:/docs-assistant@challenger"
EXPOSE 8080
ENTRYPOINT ["python", "-m", "uvicorn", "--factory", "llmspec.runtime.server:create_app", "--host", "0.0.0.0", "--port", "8080"]
LLMSPEC
if [ "${BUILD:-1}" = 1 ]; then
  docker build -t 'acme/docs-assistant' "$context"
fi
