"""`llmspec serve SPEC -e ENV`: serve the environment's promoted version over HTTP."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from llmspec.cli.common import resolve_or_report, spec_command

HELP = "serve the environment's registry alias with MLflow's model server (health-checked)"
EXAMPLES = """examples:
  llmspec serve specs/app.yaml -e dev
  curl -s localhost:5001/invocations -H 'Content-Type: application/json' \\
       -d '{"dataframe_records": [{"question": "How do I reset my password?"}]}'"""


def add_parser(sub: Any, name: str) -> None:
    parser = spec_command(sub, name, HELP, EXAMPLES)
    parser.add_argument("--host", help="interface (default: the spec's mlflow target, or local)")
    parser.add_argument("--port", type=int, help="port (default: the spec's mlflow target, 5001)")


def run(args: argparse.Namespace) -> int:
    import signal

    from llmspec.serve import start, stop
    from llmspec.workspace import open_workspace

    resolved = resolve_or_report(args.spec, args.env, args.overrides)
    if resolved is None:
        return 1

    def interrupted(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # a scheduler's stop ends the server too
    server = start(open_workspace(resolved, args.state), args.host, args.port)
    try:
        print(f"serving {server.model_uri} at {server.url}  (POST {server.url}/invocations)")
        sys.stdout.flush()
        return server.process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(server)
