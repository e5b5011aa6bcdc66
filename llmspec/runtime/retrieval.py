"""Query a LanceDB index built by llmspec: vector or hybrid (vector + BM25) search, metadata
filters, at a recorded table version (so a serving model never sees a half-built index)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmspec.runtime.contracts import RetrievalConfig
from llmspec.runtime.embedding import Embedder, ModelRef


@dataclass(frozen=True)
class Hit:
    text: str
    source: str
    score: float  # higher is better (1 - cosine distance, or the reranker's relevance)
    chunk_id: str = ""
    heading: str = ""
    lines: tuple[int, int] = (0, 0)
    metadata: dict[str, Any] = field(default_factory=dict)


class Retriever:
    def __init__(
        self,
        uri: str,
        table: str,
        model: ModelRef,
        *,
        version: int | None = None,
        top_k: int = 4,
        hybrid: bool = False,
        reranker: str = "rrf",
        storage_options: dict[str, str] | None = None,
        embedder: Embedder | None = None,
        nprobes: int = 20,
        refine_factor: int | None = 10,
        metric: str = "cosine",
    ) -> None:
        from llmspec.runtime.embedding import quiet_libraries

        quiet_libraries()
        import lancedb

        from llmspec.runtime.storage import lance_options

        self.db = lancedb.connect(uri, storage_options=lance_options(uri, storage_options) or None)
        self.table = self.db.open_table(table)
        if version is not None:
            self.table.checkout(version)
        self.embedder = embedder or Embedder(model)
        self.top_k = top_k
        self.hybrid = hybrid
        self.reranker = reranker
        self.nprobes = nprobes
        self.refine_factor = refine_factor
        self.metric = metric  # the ANN index's: a query with another metric cannot use it

    @classmethod
    def from_config(
        cls,
        config: RetrievalConfig,
        uri: str | None = None,
        version: int | None = None,
        *,
        base: Path | None = None,
        storage_options: dict[str, str] | None = None,
    ) -> Retriever:
        """A retriever as a job file, a packaged model or `llmspec query` describes it, at
        ``uri`` and ``version`` when given (else the config's); a local embedding model's
        folder is relative to ``base``."""
        from llmspec.runtime.embedding import resolve_model

        embedding = config.embedding
        model = resolve_model(embedding.model, embedding.revision, base)
        return cls(
            uri or config.uri,
            config.table,
            model,
            embedder=Embedder(  # questions embedded as the index's chunks were set to expect
                model,
                revision=embedding.revision,
                query_prompt=embedding.query_prompt,
                document_prompt=embedding.document_prompt,
            ),
            storage_options=storage_options,
            version=version if version is not None else config.version,
            top_k=config.top_k,
            hybrid=config.hybrid,
            reranker=config.reranker,
            nprobes=config.nprobes,
            refine_factor=config.refine_factor,
            metric=config.metric,
        )

    def search(
        self, question: str, top_k: int | None = None, where: str | None = None
    ) -> list[Hit]:
        k = top_k or self.top_k
        vector = self.embedder.encode([question], query=True)[0]
        query: Any = (
            self.table.search(query_type="hybrid").vector(vector).text(question)
            if self.hybrid
            else self.table.search(vector)
        )
        if self.hybrid:
            query = query.rerank(_reranker(self.reranker))
        else:  # with an ANN index: how many partitions to probe, and exact re-ranking
            query = query.distance_type(self.metric).nprobes(self.nprobes)
            if self.refine_factor:
                query = query.refine_factor(self.refine_factor)
        if where:
            query = query.where(where, prefilter=True)
        rows = query.limit(k).to_list()
        return [_hit(row) for row in rows]


def _reranker(name: str) -> Any:
    from lancedb.rerankers import LinearCombinationReranker, RRFReranker

    if name == "linear":
        return LinearCombinationReranker()
    return RRFReranker()


def _hit(row: dict[str, Any]) -> Hit:
    if "_relevance_score" in row:
        score = float(row["_relevance_score"])
    else:  # cosine distance is 1 - similarity; for l2 and dot, smaller distance ranks higher
        score = 1.0 - float(row.get("_distance", 1.0))
    return Hit(
        row["text"],
        row["source"],
        score,
        row.get("id", ""),
        row.get("heading") or "",
        (int(row.get("line_start") or 0), int(row.get("line_end") or 0)),
        json.loads(row.get("metadata") or "{}"),
    )
