"""The spec's prompt, retrieval and model as the runtime's contract types (`runtime/contracts.py`:
the fine-tune's job file, the packaged model's `app.json`): one shape, so training and serving
agree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmspec.core.secrets import SecretRef
from llmspec.runtime.contracts import (
    EmbeddingConfig,
    EndpointConfig,
    EndpointModelConfig,
    LocalModelConfig,
    ModelConfig,
    PromptConfig,
    RetrievalConfig,
)
from llmspec.spec import Spec


def prompt_config(prompts: Mapping[str, Any], name: str | None = None) -> PromptConfig:
    """The template ``name`` (default: `prompts.default`, or the only one) of a `prompts`
    section dumped as JSON."""
    chosen = name or prompts.get("default") or next(iter(prompts["templates"]))
    template = prompts["templates"][chosen]
    return PromptConfig.from_dict(
        {
            "name": chosen,
            "system": prompts.get("system", ""),
            "template": template.get("template"),
            "messages": template.get("messages") or None,
            "inputs": list(template.get("inputs") or ["question"]),
        }
    )


def retrieval_config(spec: Spec) -> RetrievalConfig | None:
    """How to search the app's index: location as the spec writes it (apply passes the built
    location and version), embedding model, top_k, hybrid search and reranker."""
    if spec.retrieval is None:
        return None
    retrieval, store = spec.retrieval, spec.retrieval.store
    return RetrievalConfig(
        uri=store.uri,
        table=store.table,
        embedding=EmbeddingConfig(
            retrieval.embedding.model,
            retrieval.embedding.revision,
            retrieval.embedding.query_prompt,
            retrieval.embedding.document_prompt,
        ),
        top_k=retrieval.top_k,
        hybrid=store.full_text,
        reranker=retrieval.reranker,
        nprobes=store.index.nprobes,
        refine_factor=store.index.refine_factor,
        metric=store.index.metric,
    )


def model_config(model: Mapping[str, Any]) -> ModelConfig:
    """What the runtime needs to call a `model` section (dumped as JSON): for an endpoint, its
    address, fallbacks and the *name* of its API-key secret, never a value."""
    if model["source"] != "openai-compatible":
        return LocalModelConfig(model["source"], model.get("dtype", "auto"))

    def endpoint(e: Mapping[str, Any]) -> EndpointConfig:
        key = e.get("api_key")
        return EndpointConfig(
            e["base_url"], e["id"], str(SecretRef.parse(key).name) if key else None
        )

    main = endpoint(model)
    return EndpointModelConfig(
        "openai-compatible",
        main.base_url,
        main.id,
        main.api_key,
        fallbacks=tuple(endpoint(f) for f in model.get("fallbacks", [])),
        timeout_s=model.get("timeout_s", 60.0),
        max_retries=model.get("max_retries", 2),
    )
