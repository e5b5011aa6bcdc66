"""Embeddings as each model's authors meant them: a CLS-pooling model and a model with query and
document prompts, both built and saved here, give llmspec's vectors equal to
`SentenceTransformer.encode`'s, in the index build and on the served query path."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmspec.runtime.embedding import Embedder, ModelRef, packaged_folder
from tests.index.test_index import build, make_project, rows

pytestmark = pytest.mark.slow

TEXTS = ["Who can change the billing contact?", "Invoices are under Settings → Billing.", "x"]


def tiny_model(folder: Path, pooling: str, prompts: dict[str, str] | None = None) -> Path:
    """A two-layer BERT with MiniLM's tokenizer, saved as a sentence-transformers model."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    minilm = packaged_folder("sentence-transformers/all-MiniLM-L6-v2")
    assert minilm is not None
    base = folder.with_name(folder.name + "-base")
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(base)
    AutoTokenizer.from_pretrained(minilm).save_pretrained(base)
    transformer = models.Transformer(str(base), max_seq_length=64)
    pooled = models.Pooling(32, pooling_mode=pooling)
    SentenceTransformer(modules=[transformer, pooled], prompts=prompts or {}).save(str(folder))
    shutil.rmtree(base)
    return folder


def reference(folder: Path, texts: list[str], **prompt: Any) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu").encode(
        texts, normalize_embeddings=True, **prompt
    )


def test_a_cls_pooling_model_is_pooled_by_its_cls_token(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    folder = tiny_model(tmp_path / "cls-model", "cls")
    embedder = Embedder(ModelRef("cls-model", str(folder), "local:cls-model"))
    assert embedder.dim == 32 and embedder._model is None  # told by the configs: nothing loaded
    assert embedder.dim == SentenceTransformer(str(folder)).get_embedding_dimension()
    ours = embedder.encode(TEXTS)
    np.testing.assert_allclose(ours, reference(folder, TEXTS), atol=1e-6)
    mean = tiny_model(tmp_path / "mean-model", "mean")
    assert not np.allclose(ours, reference(mean, TEXTS), atol=1e-3)  # the pooling mattered


def test_query_and_document_prompts_the_models_own_and_the_specs(tmp_path: Path) -> None:
    prompts = {"query": "query: ", "document": "passage: "}
    folder = tiny_model(tmp_path / "e5-like", "mean", prompts)
    ref = ModelRef("e5-like", str(folder), "local:e5-like")
    own = Embedder(ref)
    np.testing.assert_allclose(
        own.encode(TEXTS), reference(folder, TEXTS, prompt_name="document"), atol=1e-6
    )
    np.testing.assert_allclose(
        own.encode(TEXTS, query=True), reference(folder, TEXTS, prompt_name="query"), atol=1e-6
    )
    spec = Embedder(ref, query_prompt="Represent this question: ")
    np.testing.assert_allclose(
        spec.encode(TEXTS, query=True),
        reference(folder, TEXTS, prompt="Represent this question: "),
        atol=1e-6,
    )
    assert not np.allclose(own.encode(TEXTS), own.encode(TEXTS, query=True), atol=1e-3)


def test_the_index_and_the_served_query_embed_as_sentence_transformers(tmp_path: Path) -> None:
    from llmspec.kinds.package.settings import retrieval_config
    from llmspec.runtime.retrieval import Retriever
    from tests.index.test_index import resolve

    project = make_project(tmp_path / "project")
    tiny_model(project / "models" / "e5-like", "cls", {"query": "query: ", "document": "passage: "})
    spec = project / "app.yaml"
    spec.write_text(
        spec.read_text().replace(
            "  top_k: 4\n",
            "  top_k: 4\n  embedding: {model: models/e5-like, document_prompt: 'passage: '}\n",
        )
    )
    outputs = build(project)
    stored = rows(outputs)
    texts = [text for _, text, _ in stored.values()]
    vectors = np.stack([vector for _, _, vector in stored.values()])
    folder = project / "models" / "e5-like"
    np.testing.assert_allclose(vectors, reference(folder, texts, prompt="passage: "), atol=1e-6)
    config = retrieval_config(resolve(spec, "dev").spec)
    assert config is not None
    served = Retriever.from_config(config, outputs["uri"], outputs["version"], base=project)
    question = ["How do I change the billing contact?"]
    np.testing.assert_allclose(
        served.embedder.encode(question, query=True),
        reference(folder, question, prompt_name="query"),
        atol=1e-6,
    )
