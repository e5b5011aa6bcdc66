"""The model an app calls, behind one interface: chat messages in, a completion out, whole or
streamed piece by piece.

Two kinds: a local causal LM (base + adapter, or merged weights) run with transformers, and an
OpenAI-compatible HTTP endpoint (with fallbacks) called with the `openai` client. A served app
whose model server is vLLM (`serving.runtime: vllm`) calls it as such an endpoint. The packaged
model and the evaluation's judge both go through here, so "any source" means the same thing
everywhere. An endpoint's API key is named in the model's configuration and read from the
environment of the process that calls it; the value is never written down.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from llmspec.runtime.contracts import EndpointConfig, EndpointModelConfig, ModelConfig
from llmspec.runtime.prompting import Message, model_input


@dataclass(frozen=True)
class Completion:
    text: str
    tokens_in: int
    tokens_out: int


class ChatModel(Protocol):
    def complete(self, messages: Sequence[Message], settings: Mapping[str, Any]) -> Completion: ...

    def stream(
        self, messages: Sequence[Message], settings: Mapping[str, Any]
    ) -> Iterator[str | Completion]:
        """The answer's text in pieces as they are generated, then the whole `Completion`."""
        ...


class MissingSecret(LookupError):
    """An endpoint's API key is not set where the model is loaded."""


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first stop sequence (what an OpenAI-style endpoint returns)."""
    ends = [text.find(s) for s in stop if s and s in text]
    return text[: min(ends)] if ends else text


class LocalChat:
    """A causal LM from a folder (plus an adapter folder), prompted through its chat template."""

    def __init__(self, model: Path, adapter: Path | None = None, *, dtype: str = "auto") -> None:
        from llmspec.runtime.generation import Generator

        self.generator = Generator(model, adapter, dtype=dtype)
        self.tokenizer = self.generator.tokenizer

    def complete(self, messages: Sequence[Message], settings: Mapping[str, Any]) -> Completion:
        text = model_input(self.tokenizer, messages)
        decoding = {k: v for k, v in settings.items() if k != "stop"}
        (reply,) = self.generator.generate([text], **decoding)
        reply = cut_at_stop(reply, settings.get("stop") or ())
        return Completion(reply, self.count(text), self.count(reply))

    def stream(
        self, messages: Sequence[Message], settings: Mapping[str, Any]
    ) -> Iterator[str | Completion]:
        text = model_input(self.tokenizer, messages)
        decoding = {k: v for k, v in settings.items() if k != "stop"}
        stop = settings.get("stop") or ()
        reply = ""
        for piece in self.generator.stream(text, **decoding):
            if not reply:  # the batch path strips the answer; so does the stream
                piece = piece.lstrip()
            joined = reply + piece
            sent = cut_at_stop(joined, stop)
            if len(sent) > len(reply):
                yield sent[len(reply) :]
            reply = sent
            if len(sent) < len(joined):  # a stop sequence: the answer ends there
                break
        reply = reply.rstrip()
        yield Completion(reply, self.count(text), self.count(reply))

    def count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def choice_probabilities(
        self, messages: Sequence[Message], choices: Sequence[str]
    ) -> list[float]:
        """The model's probability of answering with each choice, renormalised over the
        choices: one forward pass on the first token of each (choices must differ there)."""
        import torch

        text = model_input(self.tokenizer, messages)
        ids = [self.tokenizer(c, add_special_tokens=False)["input_ids"][0] for c in choices]
        if len(set(ids)) != len(ids):
            raise ValueError(f"the choices {list(choices)} share a first token")
        encoded = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            logits = self.generator.model(**encoded.to(self.generator.device)).logits[0, -1]
        picked = torch.softmax(logits[ids].float(), dim=-1)
        return [float(p) for p in picked]


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    api_key: str | None  # the value, read at load time; never logged


class EndpointChat:
    """An OpenAI-compatible chat-completions API; on an API error, the fallbacks in order."""

    def __init__(
        self,
        endpoints: Sequence[EndpointConfig],
        *,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        from openai import OpenAI

        env = os.environ if environ is None else environ
        self.endpoints = [_endpoint(e, env) for e in endpoints]
        # the client retries transient errors (connection, 408/409/429/5xx) with backoff
        self.clients = [
            OpenAI(
                base_url=e.base_url,
                api_key=e.api_key or "unused",  # local servers often take no key
                timeout=timeout_s,
                max_retries=max_retries,
            )
            for e in self.endpoints
        ]

    def complete(self, messages: Sequence[Message], settings: Mapping[str, Any]) -> Completion:
        import openai

        failures: list[str] = []
        for endpoint, client in zip(self.endpoints, self.clients, strict=True):
            try:
                response = client.chat.completions.create(
                    model=endpoint.model,
                    messages=list(messages),  # type: ignore[arg-type]
                    max_tokens=int(settings["max_new_tokens"]),
                    temperature=float(settings["temperature"]),
                    top_p=float(settings["top_p"]),
                    stop=list(settings.get("stop") or []) or None,
                )
            except openai.BadRequestError:
                raise  # the request itself is wrong: no other endpoint would take it
            except openai.APIError as exc:
                failures.append(f"{endpoint.base_url}: {type(exc).__name__}: {exc}")
                continue
            usage = response.usage
            return Completion(
                (response.choices[0].message.content or "").strip(),
                usage.prompt_tokens if usage else 0,
                usage.completion_tokens if usage else 0,
            )
        raise ConnectionError("every endpoint failed: " + "; ".join(failures))

    def stream(
        self, messages: Sequence[Message], settings: Mapping[str, Any]
    ) -> Iterator[str | Completion]:
        """The endpoint's own stream; a fallback is tried only while nothing was sent."""
        import openai

        failures: list[str] = []
        for endpoint, client in zip(self.endpoints, self.clients, strict=True):
            text: list[str] = []
            usage = None
            try:
                chunks = client.chat.completions.create(  # type: ignore[call-overload]
                    model=endpoint.model,
                    messages=list(messages),
                    max_tokens=int(settings["max_new_tokens"]),
                    temperature=float(settings["temperature"]),
                    top_p=float(settings["top_p"]),
                    stop=list(settings.get("stop") or []) or None,
                    stream=True,
                    stream_options={"include_usage": True},
                )
                with chunks:  # closing it mid-way aborts the request on the server
                    for chunk in chunks:
                        usage = chunk.usage or usage
                        piece = chunk.choices[0].delta.content if chunk.choices else None
                        if piece:
                            piece = piece.lstrip() if not text else piece
                            if piece:
                                text.append(piece)
                                yield piece
            except openai.BadRequestError:
                raise
            except openai.APIError as exc:
                if text:  # half an answer was sent: another endpoint cannot continue it
                    raise
                failures.append(f"{endpoint.base_url}: {type(exc).__name__}: {exc}")
                continue
            yield Completion(
                "".join(text).strip(),
                usage.prompt_tokens if usage else 0,
                usage.completion_tokens if usage else 0,
            )
            return
        raise ConnectionError("every endpoint failed: " + "; ".join(failures))


def model_server() -> EndpointConfig | None:
    """The model server this process calls instead of loading the weights itself: set by
    `llmspec serve` and the rendered manifests for `serving.runtime: vllm`
    (`LLMSPEC_LLM_URL`, and `LLMSPEC_LLM_MODEL`: the adapter or base model name there)."""
    url = os.environ.get("LLMSPEC_LLM_URL")
    if not url:
        return None
    return EndpointConfig(url, os.environ.get("LLMSPEC_LLM_MODEL") or "base", None)


def _endpoint(config: EndpointConfig, environ: Mapping[str, str]) -> Endpoint:
    secret = config.api_key
    key = None
    if secret:
        key = environ.get(secret)
        if not key:
            raise MissingSecret(
                f"secret {secret} (the API key of {config.base_url}) is not set in this "
                f"environment; set {secret} where the model is served"
            )
    return Endpoint(config.base_url.rstrip("/"), config.id, key)


def open_chat(model: ModelConfig, folders: Mapping[str, Any]) -> ChatModel:
    """The chat model a packaged app (or a judge) describes: ``model`` is its `app.json` model
    section, ``folders`` its artifact paths (`model`, `adapter`) for a local model."""
    if isinstance(model, EndpointModelConfig):
        return EndpointChat(
            model.endpoints, timeout_s=float(model.timeout_s), max_retries=int(model.max_retries)
        )
    server = model_server()
    if server is not None:  # weights served by vLLM: no retries, a batching server queues
        return EndpointChat([server], timeout_s=float(os.environ.get("LLMSPEC_LLM_TIMEOUT", 600)))
    adapter = folders.get("adapter")
    return LocalChat(
        Path(folders["model"]), Path(adapter) if adapter else None, dtype=str(model.dtype)
    )
