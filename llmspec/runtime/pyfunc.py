"""The app as an MLflow pyfunc model: prompt template + retrieval + model (+ adapter).

`predict` takes records with the template's inputs (a DataFrame or a list of dicts) and returns,
per record, the answer and the sources it was given. The model is a local one (base + adapter,
or merged) or an OpenAI-compatible endpoint whose API key is read at load time from the
serving environment (`runtime/llm.py`). Requests may override generation settings
(`max_new_tokens`, `temperature`, `top_p`) within the spec's limits. Everything it needs comes
from the model's artifacts (`app.json`, the model folders), so it serves anywhere llmspec's
runtime and its libraries are installed; it imports nothing from the compiler.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlflow.pyfunc.model import PythonModel

from llmspec.runtime.contracts import AppConfig, GenerationConfig, LimitsConfig, RetrievalConfig
from llmspec.runtime.llm import Completion
from llmspec.runtime.prompting import AppPrompt, Message, with_history
from llmspec.runtime.tracing import maybe, request_trace, retrieved

OVERRIDABLE = ("max_new_tokens", "temperature", "top_p")


def bounded(
    defaults: GenerationConfig, params: Mapping[str, Any] | None, limits: LimitsConfig
) -> dict[str, Any]:
    """Generation settings for one request: the spec's defaults, overridden by ``params`` where
    allowed, clamped to the limits (a request cannot ask for 100k tokens)."""
    settings: dict[str, Any] = {
        "max_new_tokens": defaults.max_new_tokens,
        "temperature": defaults.temperature,
        "top_p": defaults.top_p,
        "repetition_penalty": defaults.repetition_penalty,
    }
    for key in OVERRIDABLE:
        if params and params.get(key) is not None:
            settings[key] = params[key]
    settings["max_new_tokens"] = max(
        1, min(int(settings["max_new_tokens"]), int(limits.max_new_tokens))
    )
    settings["temperature"] = max(
        0.0, min(float(settings["temperature"]), float(limits.max_temperature))
    )
    settings["top_p"] = max(0.01, min(float(settings["top_p"]), 1.0))
    settings["stop"] = list(defaults.stop)
    return settings


class LLMAppModel(PythonModel):
    # the input schema is the signature logged with the model; MLflow's reading of predict's
    # type hints (which are for mypy) would only warn, with or without them
    _skip_type_hint_validation = True
    # what the app server observes of each answer (its /metrics), whichever route asked
    on_answer: Callable[[Mapping[str, Any], bool], None] | None = None
    # tags of this model's traces beyond the process's: the version and side in a rollout
    trace_tags: Mapping[str, str] = {}

    def load_context(self, context: Any) -> None:
        from llmspec.runtime.embedding import quiet_libraries

        quiet_libraries()
        artifacts = context.artifacts
        self.config = AppConfig.from_json(Path(artifacts["app"]).read_text(encoding="utf-8"))
        self.prompt = AppPrompt.from_config(self.config.prompt)
        self.retriever = _retriever(self.config.retrieval)
        from llmspec.runtime.llm import open_chat

        self.llm = open_chat(self.config.model, artifacts)

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        records = _records(model_input)
        settings = bounded(self.config.generation, params, self.config.limits)
        answers = []
        for record in records:
            answers.append(self.answer(record, settings))
        import pandas as pd  # type: ignore[import-untyped]

        return pd.DataFrame(
            answers,
            columns=["answer", "sources", "latency_ms", "tokens_in", "tokens_out", "trace_id"],
        )

    def answer(
        self,
        record: Mapping[str, Any],
        settings: Mapping[str, Any],
        history: Sequence[Message] = (),
    ) -> dict[str, Any]:
        """The answer to one record (a conversation's earlier turns in ``history``): its text,
        sources, latency, token counts and trace id."""
        *_, out = self.answers(record, settings, history, stream=False)
        assert isinstance(out, dict)
        return out

    def answers(
        self,
        record: Mapping[str, Any],
        settings: Mapping[str, Any],
        history: Sequence[Message] = (),
        *,
        stream: bool = True,
    ) -> Iterator[str | dict[str, Any]]:
        """The answer's text in pieces as the model generates it, then the record `answer`
        returns (with `ttft_ms`, the time to its first piece). One trace spans it all, so the
        generator is consumed in one thread."""
        started = time.perf_counter()
        question = str(record.get(self.prompt.inputs[0], ""))
        variables = {name: record.get(name, "") for name in self.prompt.inputs}
        with request_trace(self.config, variables, self.trace_tags) as trace:
            hits = []
            if self.retriever is not None and self.prompt.uses_context:
                with maybe(trace, "retrieve") as span:
                    hits = self.retriever.search(question)
                    if span is not None:
                        retrieved(span, hits)
            limits = self.config.limits
            messages = with_history(
                self.prompt.render(variables, hits),
                history,
                limits.context_window,
                int(settings["max_new_tokens"]),
            )
            first: float | None = None
            with maybe(trace, "generate") as span:
                if span is not None:
                    span.set_inputs({"messages": messages, "settings": dict(settings)})
                if stream:
                    completion = None
                    for piece in self.llm.stream(messages, settings):
                        if isinstance(piece, Completion):
                            completion = piece
                            break
                        if first is None:
                            first = time.perf_counter()
                        yield piece
                    assert completion is not None, "a stream ends with its completion"
                else:
                    completion = self.llm.complete(messages, settings)
                if span is not None:
                    span.set_outputs(completion.text)
                    span.set_attributes(
                        {"tokens_in": completion.tokens_in, "tokens_out": completion.tokens_out}
                    )
            done = time.perf_counter()
            out = {
                "answer": completion.text,
                "sources": [h.source for h in hits],
                "latency_ms": (done - started) * 1000,
                "tokens_in": completion.tokens_in,
                "tokens_out": completion.tokens_out,
                "trace_id": trace.trace_id if trace is not None else None,
            }
            if trace is not None:
                trace.span.set_outputs(out)
                if first is not None:
                    trace.span.set_attribute("ttft_ms", (first - started) * 1000)
        final = {**out, "ttft_ms": ((first or done) - started) * 1000}
        if self.on_answer is not None:
            self.on_answer(final, stream)
        yield final


def _records(model_input: Any) -> list[dict[str, Any]]:
    if hasattr(model_input, "to_dict"):
        return list(model_input.to_dict(orient="records"))
    if isinstance(model_input, Mapping):  # columns: {"question": [...]} or one record
        columns = {k: _column(v) for k, v in model_input.items()}
        count = max((len(v) for v in columns.values()), default=0)
        return [{k: v[i] for k, v in columns.items() if i < len(v)} for i in range(count)]
    return [dict(r) if isinstance(r, Mapping) else {"question": str(r)} for r in model_input]


def _column(value: Any) -> list[Any]:
    """A column's values: MLflow hands lists over as numpy arrays; a lone value is one row."""
    if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
        return [value]
    return list(value)


def _retriever(config: RetrievalConfig | None) -> Any:
    if config is None:
        return None
    from llmspec.runtime.retrieval import Retriever

    return Retriever.from_config(config)
