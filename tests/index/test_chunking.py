"""Loaders and chunking: structure, sizes, overlap, positions, determinism (no model needed)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from llmspec.index.chunking import chunk_document
from llmspec.index.documents import CorpusError, Document, load_documents
from llmspec.runtime.metrics import matches, mrr_at_k, recall_at_k

MARKDOWN = """\
---
title: Guide
tags: [a, b]
---
# Setup

First paragraph about installing the tool on a laptop.

Second paragraph about configuring it.

## Usage

Run it. Then check the output. Finally celebrate the result with the team.
"""


def words(text: str) -> int:
    return len(text.split())


def test_markdown_front_matter_and_positions(tmp_path: Path) -> None:
    (tmp_path / "guide.md").write_text(MARKDOWN)
    (doc,) = load_documents(tmp_path, ["guide.md"], "markdown")
    assert doc.metadata == {"title": "Guide", "tags": ["a", "b"]}
    assert doc.first_line == 5 and doc.text.startswith("# Setup")
    chunks = chunk_document(doc, "recursive", 12, 0, words)
    assert [c.heading for c in chunks] == ["Setup", "Setup", "Usage", "Usage"]
    first = chunks[0]
    assert (first.line_start, first.line_end) == (5, 7) and "installing" in first.text
    assert chunks[2].text.startswith("## Usage")  # a section starts a chunk
    assert chunks[-1].line_start == 13 and "celebrate" in chunks[-1].text


def test_sizes_overlap_and_determinism() -> None:
    doc = Document("d", "d.txt", " ".join(f"w{i}." for i in range(100)))
    chunks = chunk_document(doc, "recursive", 20, 5, words)
    assert all(words(c.text) <= 20 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        assert before.text.split()[-5:] == after.text.split()[:5]  # the overlap carried over
    assert chunks == chunk_document(doc, "recursive", 20, 5, words)
    fixed = chunk_document(doc, "fixed", 30, 0, words)
    assert [words(c.text) for c in fixed] == [30, 30, 30, 10]


def test_characters_as_the_unit() -> None:
    doc = Document("d", "d.txt", "alpha beta gamma delta epsilon " * 20)
    chunks = chunk_document(doc, "recursive", 60, 10, len)
    assert all(len(c.text) <= 60 for c in chunks) and len(chunks) > 5


def test_jsonl_fields_and_errors(tmp_path: Path) -> None:
    (tmp_path / "faq.jsonl").write_text(
        '{"q": "x", "body": "Answer one", "cat": "a"}\n'
        '{"q": "y", "body": "Answer two", "cat": "b"}\n'
    )
    docs = list(
        load_documents(
            tmp_path, ["faq.jsonl"], "jsonl", {"text": "body", "id": "q", "metadata": ["cat"]}
        )
    )
    assert [(d.doc_id, d.text, d.metadata, d.first_line) for d in docs] == [
        ("faq.jsonl#x", "Answer one", {"cat": "a"}, 1),
        ("faq.jsonl#y", "Answer two", {"cat": "b"}, 2),
    ]
    (tmp_path / "bad.jsonl").write_text('{"body": "ok"}\nnot json\n')
    with pytest.raises(CorpusError, match=r"bad\.jsonl:2"):
        list(load_documents(tmp_path, ["bad.jsonl"], "jsonl", {"text": "body"}))


@pytest.mark.parametrize(
    ("sources", "relevant", "recall", "mrr"),
    [
        pytest.param(["docs/a.md", "docs/b.md"], ["a.md"], 1.0, 1.0, id="first"),
        pytest.param(
            ["docs/b.md", "docs/b.md", "docs/a.md"],
            ["docs/a.md"],
            1.0,
            0.5,
            id="duplicates-collapse",
        ),
        pytest.param(["docs/b.md", "docs/c.md"], ["a.md", "c.md"], 0.5, 0.5, id="half"),
        pytest.param(["x/ba.md"], ["a.md"], 0.0, 0.0, id="suffix-needs-a-separator"),
    ],
)
def test_retrieval_metrics(
    sources: list[str], relevant: list[str], recall: float, mrr: float
) -> None:
    assert recall_at_k(sources, relevant, 2) == recall
    assert mrr_at_k(sources, relevant, 2) == mrr
    assert matches("data/docs/a.md", "./docs/a.md")
