"""Retrieval metrics against the `relevant_docs` of an eval record."""

from __future__ import annotations

from collections.abc import Sequence


def matches(source: str, relevant: str) -> bool:
    """A retrieved source matches a relevant doc written as the same path or a path suffix
    (``billing/invoices.md`` matches ``data/help-center/billing/invoices.md``)."""
    source, relevant = source.replace("\\", "/"), relevant.replace("\\", "/").removeprefix("./")
    return source == relevant or source.endswith("/" + relevant)


def recall_at_k(sources: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """Share of the relevant docs found among the first k distinct retrieved sources."""
    if not relevant:
        return 0.0
    top = list(dict.fromkeys(sources))[:k]
    found = sum(any(matches(s, r) for s in top) for r in relevant)
    return found / len(relevant)


def mrr_at_k(sources: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """1 / rank of the first relevant source within the first k distinct sources, else 0."""
    for rank, source in enumerate(list(dict.fromkeys(sources))[:k], start=1):
        if any(matches(source, r) for r in relevant):
            return 1.0 / rank
    return 0.0
