"""The retrieval index with real embeddings (the packaged MiniLM) and a real LanceDB table."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmspec.api import resolve
from llmspec.engine.apply import apply
from llmspec.engine.workspace import open_workspace
from llmspec.runtime import embedding as embedding_module
from llmspec.runtime.embedding import resolve_model
from llmspec.runtime.metrics import mrr_at_k, recall_at_k
from llmspec.runtime.retrieval import Retriever
from tests.conftest import ROOT

CORPUS = ROOT / "tests" / "data" / "corpus"
SPEC = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata: {name: helpdesk}
model: {source: builtin, id: tiny-gpt2}
prompts:
  templates:
    answer: {template: "{% for d in context %}{{ d.text }}{% endfor %} {{ question }}"}
retrieval:
  corpus: {paths: ["docs/*.md"]}
  chunking: {size: 48, overlap: 8}
  store: {table: docs, full_text: FULL_TEXT}
  top_k: 4
environments:
  dev: {}
"""
MODEL = "sentence-transformers/all-MiniLM-L6-v2"

pytestmark = pytest.mark.slow


def make_project(root: Path, full_text: bool = False) -> Path:
    shutil.copytree(CORPUS / "docs", root / "docs")
    (root / ".git").mkdir(exist_ok=True)
    (root / "app.yaml").write_text(SPEC.replace("FULL_TEXT", str(full_text).lower()))
    return root


def with_staging_and_prod(project: Path, prod_store: str) -> Path:
    """The project's spec with a staging env and a prod env whose store differs as given."""
    spec = project / "app.yaml"
    spec.write_text(
        spec.read_text().replace(
            "  dev: {}\n", f"  dev: {{}}\n  staging: {{}}\n  prod:\n    retrieval: {prod_store}\n"
        )
    )
    return spec


class Counting:
    """Counts the texts every Embedder encodes (the real encode runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.texts = 0
        original = embedding_module.Embedder.encode

        def encode(embedder: Any, texts: Any, progress: Any = None, **role: Any) -> Any:
            self.texts += len(texts)
            return original(embedder, texts, progress, **role)

        monkeypatch.setattr(embedding_module.Embedder, "encode", encode)


def build(project: Path, *overrides: str) -> dict[str, Any]:
    ws = open_workspace(resolve(project / "app.yaml", "dev", list(overrides)))
    result = apply(ws, targets=["index.docs"])
    assert result.ok, result.diagnostics
    return ws.backend.read(ws.app, ws.env).resources["index.docs"].outputs


def rows(outputs: dict[str, Any]) -> dict[str, tuple[str, str, Any]]:
    import lancedb

    table = lancedb.connect(outputs["uri"]).open_table(outputs["table"])
    table.checkout(outputs["version"])
    data = table.to_arrow().to_pylist()
    return {r["id"]: (r["source"], r["text"], np.array(r["vector"])) for r in data}


def questions() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (CORPUS / "questions.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("full_text", [False, True], ids=["vector", "hybrid"])
def test_recall_on_hand_labelled_questions(tmp_path: Path, full_text: bool) -> None:
    project = make_project(tmp_path, full_text)
    outputs = build(project)
    assert outputs["rows"] >= 12 and outputs["embedded"] == outputs["rows"]
    retriever = Retriever(
        outputs["uri"],
        outputs["table"],
        resolve_model(MODEL),
        version=outputs["version"],
        top_k=4,
        hybrid=full_text,
    )
    recalls, ranks = [], []
    for record in questions():
        sources = [hit.source for hit in retriever.search(record["question"])]
        recalls.append(recall_at_k(sources, record["relevant_docs"], 4))
        ranks.append(mrr_at_k(sources, record["relevant_docs"], 4))
    assert sum(recalls) / len(recalls) >= 0.9, recalls
    assert sum(ranks) / len(ranks) >= 0.75, ranks


def test_editing_one_document_reembeds_only_its_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = Counting(monkeypatch)
    project = make_project(tmp_path / "incremental")
    first = build(project)
    assert counting.texts == first["rows"]
    edited = project / "docs" / "refunds.md"
    edited.write_text(edited.read_text().replace("five to ten", "three to five"))
    before = counting.texts
    second = build(project)
    changed_chunks = sum(1 for s, _, _ in rows(second).values() if s == "docs/refunds.md")
    assert counting.texts - before == changed_chunks == second["embedded"] >= 1
    assert second["full_rebuild"] is False and second["version"] > first["version"]
    fresh_project = make_project(tmp_path / "fresh")  # the same corpus, built from scratch
    shutil.copy(edited, fresh_project / "docs" / "refunds.md")
    fresh = build(fresh_project)
    incremental, rebuilt = rows(second), rows(fresh)
    assert sorted(incremental) == sorted(rebuilt) and second["rows"] == fresh["rows"]
    for key, (source, text, vector) in rebuilt.items():
        assert incremental[key][:2] == (source, text)
        assert np.allclose(incremental[key][2], vector, atol=1e-5)
    previous = dict(first)  # the earlier version stays readable
    assert len(rows(previous)) == first["rows"]


def test_deleting_and_adding_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counting = Counting(monkeypatch)
    project = make_project(tmp_path)
    first = build(project)
    (project / "docs" / "dark-mode.md").unlink()
    (project / "docs" / "status-page.md").write_text(
        textwrap.dedent("""\
        # Status page
        Service status and incident history are published on the status page.
        """)
    )
    before = counting.texts
    second = build(project)
    sources = {s for s, _, _ in rows(second).values()}
    assert "docs/dark-mode.md" not in sources and "docs/status-page.md" in sources
    assert counting.texts - before == second["embedded"] == 1
    assert second["deleted"] >= 1 and second["rows"] == first["rows"] - second["deleted"] + 1


def test_chunking_change_rebuilds_fully_and_keeps_the_old_version(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    first = build(project)
    second = build(project, "retrieval.chunking.size=24")
    assert second["full_rebuild"] is True and second["embedded"] == second["rows"]
    assert second["rows"] > first["rows"]
    assert len(rows(first)) == first["rows"]  # still readable at its version


def test_query_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmspec.cli import main

    project = make_project(tmp_path)
    monkeypatch.chdir(project)
    assert main(["query", "app.yaml", "-e", "dev", "refund"]) == 1  # not built yet
    assert "has not been built" in capsys.readouterr().err
    build(project)
    assert (
        main(
            [
                "query",
                "app.yaml",
                "-e",
                "dev",
                "How many API requests per minute?",
                "--json",
                "--top-k",
                "2",
            ]
        )
        == 0
    )
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["source"] == "docs/api-rate-limits.md" and len(hits) == 2
    assert hits[0]["metadata"]["topic"] == "api" and hits[0]["lines"][0] >= 5
    assert (
        main(
            [
                "query",
                "app.yaml",
                "-e",
                "dev",
                "invoice",
                "--where",
                "source = 'docs/refunds.md'",
                "--json",
            ]
        )
        == 0
    )
    assert {h["source"] for h in json.loads(capsys.readouterr().out)} == {"docs/refunds.md"}


def test_prod_reuses_the_staging_table_by_copy(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    counting = Counting(monkeypatch)
    project = make_project(tmp_path)
    spec = with_staging_and_prod(project, "{store: {uri: prod-store}}")
    ws = open_workspace(resolve(spec, "staging"))
    assert apply(ws, targets=["index.docs"]).ok
    embedded = counting.texts
    prod = open_workspace(resolve(spec, "prod"))
    _, plan = prod.plan(["index.docs"])
    assert [(c.action, c.reuse_from) for c in plan.changes] == [("reuse", "staging")]
    assert apply(prod, targets=["index.docs"]).ok
    assert counting.texts == embedded  # copied, not embedded again
    outputs = prod.backend.read("helpdesk", "prod").resources["index.docs"].outputs
    assert outputs["uri"].endswith("prod-store") and "copied_from" in outputs
    assert len(rows(outputs)) == outputs["rows"]


def test_edit_that_shifts_lines_and_metadata_matches_a_rebuild(tmp_path: Path) -> None:
    project = make_project(tmp_path / "a")
    build(project)
    doc = project / "docs" / "webhooks.md"
    doc.write_text(
        doc.read_text()
        .replace("topic: api", "topic: integrations\nowner: platform")
        .replace("# Webhooks\n", "# Webhooks\n\nA new first paragraph.\n")
    )
    updated = build(project)
    fresh_project = make_project(tmp_path / "b")
    shutil.copy(doc, fresh_project / "docs" / "webhooks.md")
    fresh = build(fresh_project)

    def table(outputs: dict[str, Any]) -> list[dict[str, Any]]:
        import lancedb

        t = lancedb.connect(outputs["uri"]).open_table(outputs["table"])
        t.checkout(outputs["version"])
        return sorted(
            (dict(r, vector=None) for r in t.to_arrow().to_pylist()), key=lambda r: r["id"]
        )

    assert table(updated) == table(fresh)  # every column, metadata and lines included
    rows_of_doc = [r for r in table(updated) if r["source"] == "docs/webhooks.md"]
    assert all(json.loads(r["metadata"])["owner"] == "platform" for r in rows_of_doc)


def test_repeated_text_under_two_headings_is_kept_twice(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / "docs" / "notice.md").write_text(
        "# Billing\n\nSee the FAQ for details.\n\n# Security\n\nSee the FAQ for details.\n"
    )
    outputs = build(project)
    import lancedb

    t = lancedb.connect(outputs["uri"]).open_table(outputs["table"])
    headings = sorted(
        r["heading"]
        for r in t.to_arrow().to_pylist()
        if r["source"] == "docs/notice.md" and r["text"].endswith("details.")
    )
    assert headings == ["Billing", "Security"]


def test_same_store_other_table_is_copied_and_destroy_keeps_staging(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    spec = with_staging_and_prod(project, "{store: {table: docs_prod}}")
    staging = open_workspace(resolve(spec, "staging"))
    assert apply(staging, targets=["index.docs"]).ok
    prod = open_workspace(resolve(spec, "prod"))
    assert apply(prod, targets=["index.docs_prod"]).ok
    outputs = prod.backend.read("helpdesk", "prod").resources["index.docs_prod"].outputs
    assert outputs["table"] == "docs_prod" and "copied_from" in outputs
    from llmspec.engine.destroy import destroy

    assert destroy(prod).ok
    kept = staging.backend.read("helpdesk", "staging").resources["index.docs"].outputs
    assert len(rows(kept)) == kept["rows"]  # staging's table survived prod's destroy
