#!/bin/sh
# Rendered by llmspec for support-bot (sha256:9e0722705f58cee56997a692042acdb1e84b601ee0fd020a973179c7c74fc628): serve models:/support-bot@champion locally.
exec mlflow models serve -m "models:/support-bot@champion" -h 127.0.0.1 -p 5001 --workers 1 --env-manager local
