"""`llmspec try SPEC -e ENV "question" … [--set …] [--model …]`: the sandbox."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from llmspec.cli.common import (
    Done,
    spec_command,
)

HELP = "try edits (--set) on a few questions beside the served version's answers; not applied"
EXAMPLES = """examples:
  llmspec try specs/app.yaml -e dev "Who can change the billing contact?"
  llmspec try specs/app.yaml -e dev "How do I reset my password?" \\
      --set "prompts.system='Answer in one sentence.'" --set retrieval.top_k=2
  llmspec try specs/app.yaml -e dev "Can I get a refund?" --model models:/app/3
  llmspec try specs/app.yaml -e dev "Can I get a refund?" --model builtin:smollm2-135m-instruct

Both sides search the index of the version the environment's alias serves. The current side is
that version's answer; the edited side uses the edited prompt, decoding settings and top_k, and
that version's model or the one --model names. Each try is an MLflow run in the experiment
llmspec/<app>/<env>/sandbox."""


def add_parser(sub: Any, name: str) -> None:
    parser = spec_command(sub, name, HELP, EXAMPLES)
    parser.add_argument("questions", nargs="+", metavar="QUESTION", help="one or more questions")
    parser.add_argument(
        "--model",
        metavar="REF",
        help="the edited side's model: models:/NAME/VERSION, models:/NAME@ALIAS, builtin:ID, "
        "hf:ORG/NAME@REVISION or local:PATH (default: the served version's)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output")


def run(args: argparse.Namespace) -> Done:
    from llmspec import api

    tried = api.try_edits(
        args.spec, args.env, args.overrides, questions=args.questions, model=args.model,
        state=args.state,
    )  # fmt: skip
    if args.format == "json":
        found = {"run_id": tried.run_id, "model": tried.model}
        print(json.dumps({**found, "attempts": [asdict(a) for a in tried.attempts]}, indent=2))
        return Done()
    for attempt in tried.attempts:
        print(f"Q: {attempt.question}")
        print("  prompt (edited):")
        print("    " + attempt.prompt.strip().replace("\n", "\n    "))
        print(f"  sources  current: {', '.join(attempt.current_sources) or '—'}")
        print(f"           edited:  {', '.join(attempt.sources) or '—'}")
        print(f"  answer   current ({tried.current}): {attempt.current_answer}")
        print(f"           edited{f' ({args.model})' if args.model else ''}:  {attempt.answer}")
        print()
    print(f"logged as MLflow run {tried.run_id} (experiment {tried.experiment})")
    return Done()
