"""`llmspec feedback TRACE_ID --rating up|down [--comment …] [--correction …]`,
`llmspec feedback export SPEC -e ENV --output FILE [--format …]` (feedback into fine-tune
records, or preference pairs) and
`llmspec feedback harvest SPEC -e ENV [--since 7d] [--output FILE]` (failed requests into
candidate eval records)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmspec.cli.common import (
    Done,
    Formatter,
    add_env_options,
)
from llmspec.core.diagnostics import SpecError, error

if TYPE_CHECKING:
    from llmspec.operate.feedback_export import Export
    from llmspec.operate.harvest import Harvest

HELP = "attach human feedback (rating, comment, correction) to a served request's trace"
EXAMPLES = """examples:
  llmspec feedback tr-1a2b3c --rating up
  llmspec feedback tr-1a2b3c --rating down --comment "cites the wrong plan" \\
      --correction "Only owners can change the plan."

  llmspec feedback export specs/app.yaml -e prod --since 7d --output data/feedback.jsonl
  llmspec feedback export specs/app.yaml -e prod --format preference --output data/pairs.jsonl
  llmspec feedback harvest specs/app.yaml -e prod --since 7d

The trace id is in the server's responses (`trace_id`). The store is MLFLOW_TRACKING_URI, or
--tracking-uri, or the repository's local one (.llmspec/mlflow.db). `export` writes the
corrected and up-rated requests of the app's traces in its fine-tune dataset format; with
`--format preference`, pairs {prompt, chosen, rejected} for DPO/ORPO/KTO: a correction over
the answer it corrects, an up-rated answer over a down-rated one to the same question, and the
online judges' better of a shadow rollout's two answers to one request. `harvest` writes the
down-rated, corrected and judge-failed ones as candidate eval records (default: beside the
first eval dataset, `<dataset>.harvest-<env>.jsonl`), to review and add."""
EXTRA_POSITIONAL = "spec"  # `feedback export SPEC`, `feedback harvest SPEC`
SUBCOMMANDS = ("export", "harvest")
EXPORT_FORMATS = ("chat", "instruction", "completion", "preference")
DEFAULT_SINCE = {"export": "30d", "harvest": "7d"}


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name, help=HELP, description=HELP, epilog=EXAMPLES, formatter_class=Formatter
    )
    parser.add_argument(
        "trace_id",
        metavar="TRACE_ID",
        help="the request's trace (`trace_id`), or `export` / `harvest`",
    )
    parser.add_argument("--rating", choices=("up", "down"), help="thumbs up or down")
    parser.add_argument("--comment", help="what was good or wrong")
    parser.add_argument("--correction", help="the answer it should have given")
    parser.add_argument("--user", help="who gives it (default: $LLMSPEC_USER, else the login name)")
    parser.add_argument("--tracking-uri", help="the MLflow store holding the traces")
    parser.add_argument("spec", nargs="?", help=argparse.SUPPRESS)  # with `export`, `harvest`
    add_env_options(parser)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    parser.add_argument(
        "--output",
        type=Path,
        help="export: the dataset file to write; harvest: where the candidates go "
        "(default beside the first eval dataset)",
    )
    parser.add_argument(
        "--since", help="export, harvest: window (default 30d for export, 7d for harvest)"
    )
    parser.add_argument(
        "--format",
        choices=EXPORT_FORMATS,
        help="export: the records' format (default: the spec's `finetune.dataset.format`); "
        "`preference`: pairs for DPO, ORPO, KTO",
    )


def run(args: argparse.Namespace) -> Done:
    from llmspec import api

    since = args.since or DEFAULT_SINCE.get(args.trace_id, "30d")
    if args.trace_id == "harvest":
        if not args.spec:
            raise SpecError([error("LS830", "`feedback harvest` needs SPEC")])
        found_harvest = api.feedback_harvest(
            args.spec, args.env, args.overrides, output=args.output, since=since,
            state=args.state,
        )  # fmt: skip
        print(harvest_summary(found_harvest, since))
        return Done()
    if args.trace_id == "export":
        if not args.spec or args.output is None:
            raise SpecError([error("LS830", "`feedback export` needs SPEC and --output FILE")])
        found = api.export_feedback(
            args.spec, args.env, args.overrides, output=args.output, since=since,
            state=args.state, format=args.format,
        )  # fmt: skip
        print(export_summary(found))
        return Done()
    ids = api.feedback(
        args.trace_id, args.rating, args.comment, args.correction, user=args.user,
        tracking_uri=args.tracking_uri,
    )  # fmt: skip
    print(f"recorded on {args.trace_id}: {', '.join(ids)}")
    return Done()


def export_summary(found: Export) -> str:
    """How many records or pairs were written where, and from what."""
    if found.format != "preference":
        return (
            f"wrote {found.output}: {found.records} {found.format} record(s) from corrected or "
            f"up-rated requests; {found.skipped} trace(s) without either"
        )
    reasons = ", ".join(f"{n} {reason}" for reason, n in found.reasons.items()) or "none"
    return (
        f"wrote {found.output}: {found.records} preference pair(s) (by reason: {reasons}); "
        f"{found.skipped} trace(s) in no pair"
    )


def harvest_summary(found: Harvest, since: str) -> str:
    """How many candidates, why, where they were written, and how they join the eval set."""
    read = f"{found.traces} trace(s) of the last {since}"
    left = []
    if found.duplicates:
        left.append(f"{found.duplicates} repeated question(s) merged")
    if found.already_in_eval:
        left.append(f"{found.already_in_eval} question(s) already in the eval datasets")
    if found.output is None:
        known = f" ({'; '.join(left)})" if left else ""
        return f"nothing new to harvest from {read}{known}; nothing written"
    reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(found.reasons.items()))
    lines = [f"wrote {found.output}: {len(found.records)} candidate eval record(s) from {read}"]
    lines.append(f"  by reason: {reasons}")
    if left:
        lines.append(f"  left out: {'; '.join(left)}")
    if found.need_answers:
        lines.append(
            f"  {found.need_answers} need a reference answer (`needs_answer: true`): write it, "
            "then drop the flag"
        )
    lines.append(
        f"review them in a pull request, keep the ones worth a test, and append them to eval "
        f"dataset `{found.dataset}`: cat {found.output} >> {found.dataset_path}"
    )
    return "\n".join(lines)
