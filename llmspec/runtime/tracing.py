"""Traces of served requests: with `serving.monitoring.log_traces`, each answer the model server
gives is an MLflow trace: the request's inputs, the retrieved sources (a retriever span), the
generation (an LLM span with token counts), the answer, latency and any error, tagged with the
app, environment, model version and prompt version (and, on a model server, the adapter that
answered). A model packaged with its prompt in MLflow's Prompt Registry links each trace to
that prompt version, and its prompt-version tag is the version's `prompts:/` URI.

Only the server traces (it sets `LLMSPEC_TRACE=1` and the experiment), so evaluation and batch
prediction stay untraced. `sample_rate` keeps a share of requests.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
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


def fix_experiment() -> None:
    """Resolve the experiment of `MLFLOW_EXPERIMENT_ID` (or `_NAME`) once, for the process:
    MLflow otherwise looks it up in the store at the start of every trace, and on a busy local
    store that waits behind the trace writer, before the request even reaches the model."""
    if os.environ.get("LLMSPEC_TRACE") != "1":
        return
    import mlflow

    experiment = os.environ.get("MLFLOW_EXPERIMENT_ID")
    if experiment:
        mlflow.set_experiment(experiment_id=experiment)
    elif os.environ.get("MLFLOW_EXPERIMENT_NAME"):
        mlflow.set_experiment(os.environ["MLFLOW_EXPERIMENT_NAME"])


def prompt_version(prompt: Mapping[str, Any]) -> str:
    """Which prompt answered, as the trace says it: its version in MLflow's Prompt Registry
    (`prompts:/<name>/<version>`), or, for a model packaged without one, ``prompt_digest``."""
    return str(prompt.get("uri") or prompt_digest(prompt))


def prompt_digest(prompt: Mapping[str, Any]) -> str:
    """The prompt's name and a digest of what it renders (its text, system prompt, inputs; not
    where it is registered). The package step keeps it on the registered version, so a trace
    of either form finds the same version."""
    content = {k: v for k, v in prompt.items() if k != "uri"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:12]
    return f"{prompt.get('name') or 'prompt'}@{digest}"


FIRST_READ_S = 2.0  # the most a request waits on the registry: once per process and prompt
RETRY_READ_S = 300.0  # after a failed read, the registry is asked again this much later
_HELD: set[str] = set()  # prompt versions MLflow holds in memory (a pinned version never expires)
_READS: dict[str, tuple[threading.Thread, float]] = {}  # prompt uri -> its read, when it began
_READS_LOCK = threading.Lock()


def link_prompt(uri: str | None) -> None:
    """Link the open trace to the prompt version that answered: MLflow's trace-prompt link
    (the trace's linked prompts; the version's traces in the registry), which MLflow writes
    when it exports the trace. Loading the version registers it with the open trace, from
    memory once MLflow holds it. The registry is read in the background: the first request
    waits a moment for it, later ones never do; where it cannot be read (the model serves
    against another tracking server), traces go on with their tag alone."""
    if uri is None or (uri not in _HELD and not _read(uri)):
        return
    try:
        import mlflow.genai

        mlflow.genai.load_prompt(uri, link_to_model=False)
    except Exception:  # MLflow's, or the store's: linking never fails an answer
        _HELD.discard(uri)


def _read(uri: str) -> bool:
    """Whether MLflow holds ``uri`` now. A read starts when none has (again when the last one
    failed a while ago); only the first is waited for, and only for a moment."""
    first = None
    with _READS_LOCK:
        last = _READS.get(uri)
        now = time.monotonic()
        if last is None or (not last[0].is_alive() and now - last[1] > RETRY_READ_S):
            thread = threading.Thread(target=_hold, args=(uri,), name="prompt-read", daemon=True)
            _READS[uri] = (thread, now)
            thread.start()
            first = thread if last is None else None
    if first is not None:
        first.join(FIRST_READ_S)
    return uri in _HELD


def _hold(uri: str) -> None:
    try:
        from mlflow import MlflowClient

        MlflowClient().load_prompt(uri)  # into MLflow's prompt cache
        _HELD.add(uri)
    except Exception:  # unreachable, or not this registry's: asked again later
        return


@contextmanager
def request_trace(
    config: AppConfig, record: Mapping[str, Any], extra: Mapping[str, str] | None = None
) -> Iterator[Any]:
    """A trace around one answer when this process traces and the request is sampled;
    ``extra`` tags win over the process's (a rollout's server holds two versions)."""
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
    if os.environ.get("LLMSPEC_LLM_URL"):  # generated by a model server: which model there
        tags["llmspec.adapter"] = os.environ.get("LLMSPEC_LLM_MODEL", "")
    tags |= extra or {}  # a rollout's challenger: its own version and adapter
    with mlflow.start_span(name="answer", span_type="CHAIN", attributes=tags) as span:
        span.set_inputs(dict(record))
        mlflow.update_current_trace(tags=tags)
        link_prompt(config.prompt.uri)
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
