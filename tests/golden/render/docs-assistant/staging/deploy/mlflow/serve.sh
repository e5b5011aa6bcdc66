#!/bin/sh
# Rendered by llmspec for docs-assistant (sha256:c99da9813eb842ad0e0a8aa2739f15add8cdc8d0260833c0956d65b20c98ecb7): serve models:/docs-assistant@challenger locally.
exec mlflow models serve -m "models:/docs-assistant@challenger" -h 127.0.0.1 -p 5002 --workers 1 --env-manager local
