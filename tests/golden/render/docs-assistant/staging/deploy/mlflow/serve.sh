#!/bin/sh
# Rendered by llmspec for docs-assistant (sha256:b7ea4057eae1c6b7d2713a40bf6b47db7374f8242f5745644216572bff8d112b): serve models:/docs-assistant@challenger locally.
exec mlflow models serve -m "models:/docs-assistant@challenger" -h 127.0.0.1 -p 5002 --workers 1 --env-manager local
