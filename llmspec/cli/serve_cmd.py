"""`llmspec serve SPEC -e ENV`: serve the environment's promoted version over HTTP."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from llmspec.cli.common import resolve_or_report, spec_command

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


def run(args: argparse.Namespace) -> int:
    import signal

    from llmspec.engine.workspace import open_workspace
    from llmspec.operate.serve import start, stop

    resolved = resolve_or_report(args.spec, args.env, args.overrides)
    if resolved is None:
        return 1

    def interrupted(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # a scheduler's stop ends the server too
    server = start(
        open_workspace(resolved, args.state), args.host, args.port, api_key_env=args.api_key_env
    )
    try:
        print(
            f"serving {server.model_uri} at {server.url}  (POST {server.url}/invocations, "
            f"OpenAI-compatible: {server.url}/v1/chat/completions)"
        )
        sys.stdout.flush()
        return server.process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(server)
