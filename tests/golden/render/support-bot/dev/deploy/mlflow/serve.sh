#!/bin/sh
# Rendered by llmspec for support-bot (sha256:47a5ff3bda3a51ac8baf732eb254bfcc9662cc15db4117c02c3e27df1c6b10de): serve models:/support-bot@dev locally.
exec mlflow models serve -m "models:/support-bot@dev" -h 127.0.0.1 -p 5001 --workers 1 --env-manager local
