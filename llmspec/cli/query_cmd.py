"""`llmspec query SPEC -e ENV "question"`: search the environment's built index."""

from __future__ import annotations

import argparse
import json
from typing import Any

from llmspec.cli.common import (
    Done,
    Formatter,
    add_env_options,
    add_state_option,
)

HELP = "search the retrieval index an apply built (the version recorded in state)"
EXAMPLES = """examples:
  llmspec query specs/app.yaml -e dev "How do I reset my password?"
  llmspec query specs/app.yaml -e dev "invoices" --top-k 2 --where "source LIKE '%billing%'"
  llmspec query specs/app.yaml -e dev "invoices" --json"""


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name, help=HELP, description=HELP, epilog=EXAMPLES, formatter_class=Formatter
    )
    parser.add_argument("spec", metavar="SPEC", help="spec file")
    parser.add_argument("question", metavar="QUESTION", help="what to search for")
    add_env_options(parser)
    add_state_option(parser)
    parser.add_argument("--top-k", type=int, default=None, help="results (default: top_k)")
    parser.add_argument("--where", metavar="SQL", help="metadata filter, e.g. source = 'a.md'")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> Done:
    from llmspec import api

    hits = api.query(
        args.spec, args.env, args.overrides, question=args.question, top_k=args.top_k,
        where=args.where, state=args.state,
    )  # fmt: skip
    if args.json:
        rows = [
            {
                "text": h.text,
                "source": h.source,
                "score": round(h.score, 6),
                "lines": list(h.lines),
                "heading": h.heading,
                "metadata": h.metadata,
            }
            for h in hits
        ]
        print(json.dumps(rows, indent=2))
        return Done()
    for rank, hit in enumerate(hits, start=1):
        where = f"{hit.source}:{hit.lines[0]}-{hit.lines[1]}"
        snippet = " ".join(hit.text.split())
        print(f"{rank}. {hit.score:.3f}  {where}" + (f"  ({hit.heading})" if hit.heading else ""))
        print(f"   {snippet[:160]}{'…' if len(snippet) > 160 else ''}")
    if not hits:
        print("no results")
    return Done()
