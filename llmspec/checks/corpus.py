"""The corpus and its chunks: formats the builder can read, chunks the model reads whole."""

from __future__ import annotations

from collections.abc import Iterator

from llmspec.checks.context import CheckContext
from llmspec.core.diagnostics import Diagnostic, error, warning

# Tokens an embedding model reads per text (sentence-transformers' max_seq_length); the rest of
# a longer chunk is cut off before embedding.
KNOWN_SEQUENCE_LENGTHS = {"sentence-transformers/all-MiniLM-L6-v2": 256}


def check_corpus(ctx: CheckContext) -> Iterator[Diagnostic]:
    retrieval = ctx.spec.retrieval
    if retrieval is None:
        return
    if retrieval.corpus.format == "pdf":
        yield error(
            "LS415",
            "PDF corpora are not supported yet: no PDF parser is installed with llmspec",
            ctx.span("retrieval", "corpus", "format"),
            hint="convert the documents to markdown or text (e.g. with pdftotext)",
        )
    limit = KNOWN_SEQUENCE_LENGTHS.get(retrieval.embedding.model)
    chunking = retrieval.chunking
    tokens = chunking.size if chunking.unit == "tokens" else chunking.size // 4
    if limit is not None and tokens > limit:
        yield warning(
            "LS416",
            f"chunks of {chunking.size} {chunking.unit} are longer than "
            f"`{retrieval.embedding.model}` reads ({limit} tokens): the rest of each "
            "chunk would not be embedded",
            ctx.span("retrieval", "chunking", "size"),
            hint=f"use `size: {limit}` (tokens) or less",
        )
