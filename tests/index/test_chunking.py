"""Loaders and chunking: structure, sizes, overlap, positions, determinism (no model needed)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from llmspec.kinds.index.chunking import chunk_document
from llmspec.kinds.index.documents import CorpusError, Document, load_documents
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


def test_chunks_never_exceed_size_even_with_overlap_or_long_runs() -> None:
    cases = [
        (Document("d", "d", "a b c\n\n" + " ".join(f"x{i}" for i in range(19))), 20, 5, words),
        (Document("d", "d", "abcd\n\n" + "y" * 58), 60, 10, len),
        (Document("d", "d", "short words " + "z" * 200), 60, 10, len),
    ]
    for doc, size, overlap, measure in cases:
        chunks = chunk_document(doc, "recursive", size, overlap, measure)
        assert all(measure(c.text) <= size for c in chunks), [c.text for c in chunks]
        assert "".join(c.text for c in chunks).count("z") >= doc.text.count("z")


def test_split_paragraphs_cite_their_own_lines() -> None:
    text = "\n".join(f"Line {i} has words." for i in range(1, 11))
    chunks = chunk_document(Document("d", "d", text), "recursive", 16, 0, words)
    assert [(c.line_start, c.line_end) for c in chunks] == [(1, 4), (5, 8), (9, 10)]
    record = Document("f#1", "f.jsonl", "para a\n\npara b\n\npara c", 2, lines_in_file=False)
    assert {
        (c.line_start, c.line_end) for c in chunk_document(record, "recursive", 2, 0, words)
    } == {(2, 2)}


def test_code_fences_and_front_matter_edges(tmp_path: Path) -> None:
    fenced = Document("d", "d", "# A\n\n```\n# not a heading\n```\n")
    assert [c.heading for c in chunk_document(fenced, "recursive", 200, 0, words)] == ["A"]
    (tmp_path / "rule.md").write_text("---\nIntro that matters.\n---\n# H\nBody\n")
    (tmp_path / "bom.md").write_text("\ufeff---\ntitle: X\n---\n# H\n")
    (tmp_path / "empty.md").write_text("---\n---\n# H\n")
    rule, bom, empty = load_documents(tmp_path, ["rule.md", "bom.md", "empty.md"], "markdown")
    assert "Intro that matters." in rule.text and rule.metadata == {}
    assert bom.metadata == {"title": "X"} and bom.text.startswith("# H")
    assert empty.text.startswith("# H")
    (tmp_path / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(CorpusError, match="not UTF-8"):
        list(load_documents(tmp_path, ["latin1.md"], "markdown"))


def test_dot_folders_are_matched_whole() -> None:
    assert matches(".github/faq.md", ".github/faq.md")
    assert not matches("docs/github/faq.md", ".github/faq.md")
