"""Traces of served requests: with `serving.monitoring.log_traces`, each answer the model server
gives is an MLflow trace: the request's inputs, the retrieved sources (a retriever span), the
generation (an LLM span with token counts), the answer, latency and any error, tagged with the
app, environment, model version and prompt version.

Only the server traces (it sets `LLMSPEC_TRACE=1` and the experiment), so evaluation and batch
prediction stay untraced. `sample_rate` keeps a share of requests.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from llmspec.runtime.contracts import AppConfig


class RequestTrace:
    """The open trace of one request; ``trace_id`` is what feedback refers to."""

    def __init__(self, span: Any) -> None:
        self.span = span
        self.trace_id = str(span.trace_id)

    def retrieval(self) -> Any:
        import mlflow

        return mlflow.start_span(name="retrieve", span_type="RETRIEVER")

    def generation(self) -> Any:
        import mlflow

        return mlflow.start_span(name="generate", span_type="LLM")


def prompt_version(prompt: Mapping[str, Any]) -> str:
    """The prompt's name and a digest of its text: which prompt answered, from the trace."""
    digest = hashlib.sha256(json.dumps(prompt, sort_keys=True).encode()).hexdigest()[:12]
    return f"{prompt.get('name') or 'prompt'}@{digest}"


@contextmanager
def request_trace(config: AppConfig, record: Mapping[str, Any]) -> Iterator[Any]:
    """A trace around one answer when this process traces and the request is sampled."""
    monitoring = config.monitoring
    traced = (
        os.environ.get("LLMSPEC_TRACE") == "1"
        and monitoring.log_traces
        and random.random() < float(monitoring.sample_rate)
    )
    if not traced:
        yield None
        return
    import mlflow

    tags = {
        "llmspec.app": config.app,
        "llmspec.env": os.environ.get("LLMSPEC_ENV", ""),
        "llmspec.model_version": os.environ.get("LLMSPEC_MODEL_VERSION", ""),
        "llmspec.prompt_version": prompt_version(config.prompt.to_dict()),
    }
    with mlflow.start_span(name="answer", span_type="CHAIN", attributes=tags) as span:
        span.set_inputs(dict(record))
        mlflow.update_current_trace(tags=tags)
        yield RequestTrace(span)


def retrieved(span: Any, hits: Sequence[Any]) -> None:
    span.set_outputs(
        [{"doc_uri": h.source, "page_content": h.text, "score": h.score} for h in hits]
    )


def maybe(trace: RequestTrace | None, part: str) -> Any:
    """The child span ``part`` of a trace, or nothing to enter when untraced."""
    if trace is None:
        return nullcontext(None)
    return trace.retrieval() if part == "retrieve" else trace.generation()
