"""`llmspec query SPEC -e ENV "question"`: search the environment's built index."""

from __future__ import annotations

import argparse
import json
from typing import Any

from llmspec.cli.common import (
    Formatter,
    add_env_options,
    add_state_option,
    print_diagnostics,
    resolve_or_report,
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


def run(args: argparse.Namespace) -> int:
    from llmspec.core.diagnostics import error
    from llmspec.engine.workspace import open_workspace

    resolved = resolve_or_report(args.spec, args.env, args.overrides)
    if resolved is None:
        return 1
    retrieval = resolved.spec.retrieval
    if retrieval is None:
        print_diagnostics([error("LS471", "this spec has no `retrieval` section")])
        return 1
    ws = open_workspace(resolved, args.state)
    address = f"index.{retrieval.store.table}"
    built = ws.backend.read(ws.app, ws.env).resources.get(address)
    if built is None or built.status != "complete":
        print_diagnostics(
            [
                error(
                    "LS471",
                    f"`{address}` has not been built in `{ws.env}`",
                    hint=f"run `llmspec apply {args.spec} -e {ws.env} --target {address}`",
                )
            ]
        )
        return 1
    from llmspec.kinds.index.build import storage_options
    from llmspec.runtime.embedding import resolve_model
    from llmspec.runtime.retrieval import Retriever

    embedding = retrieval.embedding
    try:
        retriever = Retriever(
            built.outputs["uri"],
            built.outputs["table"],
            resolve_model(embedding.model, embedding.revision, resolved.path.resolve().parent),
            version=int(built.outputs["version"]),
            top_k=retrieval.top_k,
            hybrid=retrieval.store.full_text,
            reranker=retrieval.reranker,
            nprobes=retrieval.store.index.nprobes,
            refine_factor=retrieval.store.index.refine_factor,
            metric=retrieval.store.index.metric,
            storage_options=storage_options(retrieval.store.storage_options) or None,
        )
        hits = retriever.search(args.question, args.top_k, args.where)
    except Exception as exc:  # LanceDB reports a bad filter or a missing table like this
        print_diagnostics(
            [
                error(
                    "LS602",
                    f"the search failed: {str(exc).splitlines()[0]}",
                    hint="filters are SQL on the columns source, heading, text, "
                    "doc_id, line_start, line_end and metadata (a JSON "
                    'string: use metadata LIKE \'%"topic": "x"%\')',
                )
            ]
        )
        return 1
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "text": h.text,
                        "source": h.source,
                        "score": round(h.score, 6),
                        "lines": list(h.lines),
                        "heading": h.heading,
                        "metadata": h.metadata,
                    }
                    for h in hits
                ],
                indent=2,
            )
        )
        return 0
    for rank, hit in enumerate(hits, start=1):
        where = f"{hit.source}:{hit.lines[0]}-{hit.lines[1]}"
        snippet = " ".join(hit.text.split())
        print(f"{rank}. {hit.score:.3f}  {where}" + (f"  ({hit.heading})" if hit.heading else ""))
        print(f"   {snippet[:160]}{'…' if len(snippet) > 160 else ''}")
    if not hits:
        print("no results")
    return 0
