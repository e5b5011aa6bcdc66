"""`llmspec feedback TRACE_ID --rating up|down [--comment …] [--correction …]`, and
`llmspec feedback export SPEC -e ENV --output FILE`: feedback into fine-tune records."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from llmspec.cli.common import Formatter, add_env_options

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


def run(args: argparse.Namespace) -> int:
    if args.trace_id == "export":
        return export(args)
    from llmspec.integrations.mlflow import quiet_mlflow
    from llmspec.operate.feedback import record_feedback

    quiet_mlflow()
    import mlflow

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        uri = f"sqlite:///{Path('.llmspec/mlflow.db').resolve()}"
    mlflow.set_tracking_uri(uri)
    from llmspec.state.model import current_user

    user = args.user or current_user()
    ids = record_feedback(args.trace_id, args.rating, args.comment, args.correction, user)
    print(f"recorded on {args.trace_id}: {', '.join(ids)}")
    return 0


def export(args: argparse.Namespace) -> int:
    import json

    from llmspec.cli.common import resolve_or_report
    from llmspec.cli.monitor_cmd import window_start_ms
    from llmspec.core.diagnostics import SpecError, error
    from llmspec.engine.workspace import open_workspace
    from llmspec.integrations.mlflow import experiment_for, quiet_mlflow
    from llmspec.kinds.promote.promoted import promoted_model
    from llmspec.operate.feedback import training_records

    if not args.spec or args.output is None:
        raise SpecError([error("LS619", "`feedback export` needs SPEC and --output FILE")])
    resolved = resolve_or_report(args.spec, args.env, args.overrides)
    if resolved is None:
        return 1
    finetune = resolved.spec.finetune
    fmt = finetune.dataset.format if finetune is not None else "chat"
    fields = finetune.dataset.fields.model_dump() if finetune is not None else {}
    ws = open_workspace(resolved, args.state)
    promoted = promoted_model(ws)
    quiet_mlflow()
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(promoted.tracking_uri)
    experiment = experiment_for(
        MlflowClient(tracking_uri=promoted.tracking_uri),
        resolved.spec,
        ws.app,
        ws.env,
        ws.repo_root,
    )
    since_ms = window_start_ms(args.since)
    traces = mlflow.search_traces(
        experiment_ids=[experiment],
        filter_string=f"timestamp_ms > {since_ms}",
        return_type="list",
        max_results=100_000,
    )
    records, skipped = training_records(traces, fmt, fields)
    temporary = args.output.with_name(f".{args.output.name}.tmp")
    temporary.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    temporary.replace(args.output)
    print(
        f"wrote {args.output}: {len(records)} {fmt} record(s) from corrected or up-rated "
        f"requests; {skipped} trace(s) without either"
    )
    return 0
