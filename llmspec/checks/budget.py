"""Token budget: the prompt, the retrieved context and the answer fit the context window.

Prompt text is estimated at four characters per token (no tokenizer is loaded at validate time);
retrieved context counts top_k full chunks; the answer counts max_new_tokens.
"""

from __future__ import annotations

from collections.abc import Iterator

from llmspec.checks.context import CheckContext
from llmspec.checks.templates import templates_of
from llmspec.core.diagnostics import Diagnostic, error
from llmspec.spec.catalog import BUILTIN_MODELS, local_context_window

CHARS_PER_TOKEN = 4


def context_window(ctx: CheckContext) -> int | None:
    model = ctx.spec.model
    if model.source == "builtin":
        return BUILTIN_MODELS[model.id].context_window
    declared = getattr(model, "context_window", None)
    if declared is not None:
        return int(declared)
    if model.source == "local":
        return local_context_window(ctx.spec_dir / model.path)
    return None


def check_budget(ctx: CheckContext) -> Iterator[Diagnostic]:
    window = context_window(ctx)
    if window is None:
        return
    spec = ctx.spec
    where = (
        ctx.span("model", "context_window")
        if ctx.has("model", "context_window")
        else ctx.span("model", "id")
        if ctx.has("model", "id")
        else ctx.key("model")
    )
    prompt = max((len(text) for _, _, text in templates_of(ctx)), default=0)
    prompt_tokens = -(-(prompt + len(spec.prompts.system)) // CHARS_PER_TOKEN)
    answer = spec.model.generation.max_new_tokens
    context = 0
    parts = [f"prompt ≈ {prompt_tokens}"]
    if spec.retrieval is not None:
        chunk = spec.retrieval.chunking.size
        if spec.retrieval.chunking.unit == "chars":
            chunk = -(-chunk // CHARS_PER_TOKEN)
        context = spec.retrieval.top_k * chunk
        parts.append(f"context {spec.retrieval.top_k} × {chunk} = {context}")
    parts.append(f"answer {answer}")
    total = prompt_tokens + context + answer
    if total > window:
        related = (
            ctx.related("top_k", "retrieval", "top_k")
            + ctx.related("chunk size", "retrieval", "chunking", "size")
            + ctx.related("max_new_tokens", "model", "generation", "max_new_tokens")
        )
        yield error(
            "LS450",
            f"the prompt does not fit: {' + '.join(parts)} = {total} tokens, "
            f"but the model's context window is {window}",
            where,
            hint="lower `retrieval.top_k`, `retrieval.chunking.size` or "
            "`model.generation.max_new_tokens`",
            related=related,
        )
    if spec.finetune is not None and spec.finetune.training.max_seq_length > window:
        yield error(
            "LS450",
            f"`finetune.training.max_seq_length` "
            f"({spec.finetune.training.max_seq_length}) exceeds the model's context "
            f"window ({window})",
            ctx.span("finetune", "training", "max_seq_length"),
            hint=f"use at most {window}",
        )
