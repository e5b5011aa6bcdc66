#!/bin/sh
# Rendered by llmspec for docs-assistant: the serving image of models:/docs-assistant@challenger.
# Inputs digest: sha256:ce6c7a22818cc15a8c4cfe77f71b171c7ed56a4e09fe283b8124ec4f12d0383d
#
# MLflow's own generator writes the Dockerfile for the version the alias points at when this
# runs: a Python base, MLflow, the model (with llmspec's runtime beside it) and its pinned
# requirements, served by MLflow's scoring server on port 8080. The target's environment is
# added after it; secrets are never baked in.
#
#   MLFLOW_TRACKING_URI=<the registry> sh build.sh [CONTEXT_DIR]
#   BUILD=0 sh build.sh ...   writes the build context only (no docker build)
set -eu
context="${1:-$(dirname "$0")/context}"
rm -rf "$context"
python -m mlflow models generate-dockerfile -m 'models:/docs-assistant@challenger' --env-manager local -d "$context"
cat >> "$context/Dockerfile" <<'LLMSPEC'

# Added by llmspec: the target's environment
# PROVIDER_API_KEY is a secret: pass it at run time (docker run -e PROVIDER_API_KEY=...)
LABEL org.opencontainers.image.title="docs-assistant" ai.llmspec.model="models:/docs-assistant@challenger"
EXPOSE 8080
LLMSPEC
if [ "${BUILD:-1}" = 1 ]; then
  docker build -t 'acme/docs-assistant' "$context"
fi
