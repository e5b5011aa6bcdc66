"""`llmspec feedback TRACE_ID --rating up|down [--comment …] [--correction …]`, and
`llmspec feedback export SPEC -e ENV --output FILE`: feedback into fine-tune records."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from llmspec.cli.common import (
    Done,
    Formatter,
    add_env_options,
)
from llmspec.core.diagnostics import SpecError, error

HELP = "attach human feedback (rating, comment, correction) to a served request's trace"
EXAMPLES = """examples:
  llmspec feedback tr-1a2b3c --rating up
  llmspec feedback tr-1a2b3c --rating down --comment "cites the wrong plan" \\
      --correction "Only owners can change the plan."

  llmspec feedback export specs/app.yaml -e prod --since 7d --output data/feedback.jsonl

The trace id is in the server's responses (`trace_id`). The store is MLFLOW_TRACKING_URI, or
--tracking-uri, or the repository's local one (.llmspec/mlflow.db). `export` writes the
corrected and up-rated requests of the app's traces in its fine-tune dataset format."""
EXTRA_POSITIONAL = "spec"  # `feedback export SPEC`


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name, help=HELP, description=HELP, epilog=EXAMPLES, formatter_class=Formatter
    )
    parser.add_argument(
        "trace_id", metavar="TRACE_ID", help="the request's trace (`trace_id`), or `export`"
    )
    parser.add_argument("--rating", choices=("up", "down"), help="thumbs up or down")
    parser.add_argument("--comment", help="what was good or wrong")
    parser.add_argument("--correction", help="the answer it should have given")
    parser.add_argument("--user", help="who gives it (default: $LLMSPEC_USER, else the login name)")
    parser.add_argument("--tracking-uri", help="the MLflow store holding the traces")
    parser.add_argument("spec", nargs="?", help=argparse.SUPPRESS)  # with `export`
    add_env_options(parser)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help="export: the dataset file to write")
    parser.add_argument("--since", default="30d", help="export: window (default 30d)")


def run(args: argparse.Namespace) -> Done:
    from llmspec import api

    if args.trace_id == "export":
        if not args.spec or args.output is None:
            raise SpecError([error("LS830", "`feedback export` needs SPEC and --output FILE")])
        found = api.export_feedback(
            args.spec, args.env, args.overrides, output=args.output, since=args.since,
            state=args.state,
        )  # fmt: skip
        print(
            f"wrote {found.output}: {found.records} {found.format} record(s) from corrected or "
            f"up-rated requests; {found.skipped} trace(s) without either"
        )
        return Done()
    ids = api.feedback(
        args.trace_id, args.rating, args.comment, args.correction, user=args.user,
        tracking_uri=args.tracking_uri,
    )  # fmt: skip
    print(f"recorded on {args.trace_id}: {', '.join(ids)}")
    return Done()
