"""The corpus: formats the index builder can read."""

from __future__ import annotations

from collections.abc import Iterator

from llmspec.checks.context import CheckContext
from llmspec.diagnostics import Diagnostic, error


def check_corpus(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Corpus formats the index builder can read in this installation."""
    retrieval = ctx.spec.retrieval
    if retrieval is not None and retrieval.corpus.format == "pdf":
        yield error(
            "LS415",
            "PDF corpora are not supported yet: no PDF parser is installed with llmspec",
            ctx.span("retrieval", "corpus", "format"),
            hint="convert the documents to markdown or text (e.g. with pdftotext)",
        )
