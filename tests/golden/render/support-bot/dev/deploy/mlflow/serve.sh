#!/bin/sh
# Rendered by llmspec for support-bot (sha256:0790f58abaf436a7c4c89798d4413242e7d5a04eb263524ab215eb333dd8c0d3): serve models:/support-bot@dev locally.
exec mlflow models serve -m "models:/support-bot@dev" -h 127.0.0.1 -p 5001 --workers 1 --env-manager local
