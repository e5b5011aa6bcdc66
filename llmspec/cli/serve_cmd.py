"""`llmspec serve SPEC -e ENV`: serve the environment's promoted version over HTTP."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from llmspec.cli.common import (
    Done,
    spec_command,
)
from llmspec.core.diagnostics import SpecError, error

HELP = "serve the environment's registry alias over HTTP (MLflow + OpenAI routes, health-checked)"
EXAMPLES = """examples:
  llmspec serve specs/app.yaml -e dev
  curl -s localhost:5001/invocations -H 'Content-Type: application/json' \\
       -d '{"dataframe_records": [{"question": "How do I reset my password?"}]}'
  curl -s localhost:5001/v1/chat/completions -H 'Content-Type: application/json' \\
       -d '{"messages": [{"role": "user", "content": "How do I reset my password?"}]}'
  SERVE_KEY=s3cret llmspec serve specs/app.yaml -e dev --api-key-env SERVE_KEY"""


def add_parser(sub: Any, name: str) -> None:
    parser = spec_command(sub, name, HELP, EXAMPLES)
    parser.add_argument("--host", help="interface (default: the spec's mlflow target, or local)")
    parser.add_argument("--port", type=int, help="port (default: the spec's mlflow target, 5001)")
    parser.add_argument(
        "--api-key-env",
        metavar="NAME",
        help="require `Authorization: Bearer $NAME` on every route but /ping and /health",
    )


def run(args: argparse.Namespace) -> Done:
    import signal

    from llmspec import api

    resolved = api.resolve(args.spec, args.env, args.overrides)

    def interrupted(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # a scheduler's stop ends the server too
    server = api.serve(
        resolved, state=args.state, host=args.host, port=args.port, api_key_env=args.api_key_env
    )
    try:
        print(
            f"serving {server.model_uri} at {server.url}  (POST {server.url}/invocations, "
            f"OpenAI-compatible: {server.url}/v1/chat/completions, metrics: {server.url}/metrics)"
        )
        if server.model_server is not None:
            hosted = ", ".join(server.model_server.adapters) or "the base model"
            print(
                f"model server: vLLM at {server.model_server.url} serving "
                f"`{server.model_server.model}` (adapters: {hosted}; log: "
                f"{server.model_server.log})"
            )
        sys.stdout.flush()
        code = server.wait()
    except KeyboardInterrupt:
        return Done()
    finally:
        server.stop()
    if code != 0:  # a server died on its own: its log says why
        logs = [str(p) for p in (server.log, server.model_server and server.model_server.log) if p]
        raise SpecError([error("LS810", f"the server stopped with exit status {code}",
                               hint=f"see {' and '.join(logs)}" if logs else None)])  # fmt: skip
    return Done()
