"""The app server: MLflow's scoring app on a registered model, plus OpenAI-compatible routes,
feedback and metrics. What `llmspec serve`, the image and the cluster manifests all run.

MLflow's app brings `/ping`, `/health`, `/version` and `/invocations`. On top of it:

- `GET /v1/models` and `POST /v1/chat/completions`, so OpenAI clients (and another spec's
  `openai-compatible` source) can call the app. The last user message is the template's first
  input; other inputs come in the request's `inputs` object. The app's own prompt and
  retrieval apply, with the conversation's earlier user and assistant turns before the last
  one (as many as fit the context window); the client's system messages do not.
  `stream: true` streams the answer as it is generated, in OpenAI's chunk format.
- `POST /v1/feedback` when the app accepts feedback: a rating, comment and correction on a
  request's trace (`runtime/tracing.py` traces requests; responses carry `trace_id`).
- `GET /metrics`: Prometheus' format (`runtime/server_metrics.py`).
- During a rollout of the registry alias it serves, the chat routes answer each caller from
  the champion or the challenger, by the registry's route (`runtime/routing.py`); OpenAI's
  `system_fingerprint` names the version that answered. `/invocations` stays on the champion.
- With `LLMSPEC_SERVER_API_KEY` set, every route but the health checks and `/metrics` needs
  `Authorization: Bearer <key>`.

The answer comes from the model's weights in this process, or, with `LLMSPEC_LLM_URL` set
(`serving.runtime: vllm`), from a model server it calls (`runtime/llm.py`). Requests wait in a
thread pool of `LLMSPEC_SERVER_THREADS` (64): against a batching model server, concurrency is
what makes it fast.

Run as ``uvicorn --factory llmspec.runtime.server:create_app`` with `LLMSPEC_MODEL_URI` (and
`MLFLOW_TRACKING_URI` for a `models:/` URI) in the environment; `llmspec serve` does this.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

# at module level: FastAPI resolves the handlers' annotations in this module
from fastapi import FastAPI, Request

from llmspec.runtime.contracts import AppConfig
from llmspec.runtime.server_metrics import ServerMetrics

OPEN = frozenset({"/ping", "/health", "/metrics"})
_END = object()  # the end of an answer's stream


def create_app() -> FastAPI:
    from mlflow.pyfunc import scoring_server

    uri = os.environ["LLMSPEC_MODEL_URI"]
    model = scoring_server.load_model_with_mlflow_config(uri)  # type: ignore[no-untyped-call]
    app: FastAPI = scoring_server.init(model)
    name = os.environ.get("LLMSPEC_SERVED_NAME") or _name(uri)
    # traces and metrics name the version; in a cluster only the alias is known until now
    version = os.environ.get("LLMSPEC_MODEL_VERSION") or _version(uri)
    os.environ["LLMSPEC_MODEL_VERSION"] = version
    metrics = ServerMetrics(version)
    from llmspec.runtime.tracing import fix_experiment

    fix_experiment()
    python_model = model.unwrap_python_model()
    python_model.on_answer = metrics.answered
    pool = ThreadPoolExecutor(int(os.environ.get("LLMSPEC_SERVER_THREADS", "64")), "answer")
    add_metrics(app, metrics)
    add_chat_routes(app, _router(uri, python_model, version, metrics), name, pool, metrics)
    add_feedback_route(app, model)
    key = os.environ.get("LLMSPEC_SERVER_API_KEY")
    if key:
        require_key(app, key)
    return app


def _router(uri: str, champion: Any, version: str, metrics: ServerMetrics) -> Any:
    """What answers each chat request: the served version, or, for a registry alias, whichever
    side of a running rollout the caller is on (`runtime/routing.py`)."""
    from llmspec.runtime.routing import Route, Router

    name, alias = _followed(uri)
    # KServe's canary splits instead (`traffic: kserve`), or the model is a version, not an alias
    off = os.environ.get("LLMSPEC_ROLLOUT_ROUTING") == "off"
    if off or not alias:
        return Router(name, "", champion, version, lambda v: champion, lambda *a: None)
    from mlflow import MlflowClient
    from mlflow.pyfunc import scoring_server

    from llmspec.runtime.llm import model_server

    client = MlflowClient()
    server = model_server()

    def load(number: str) -> Any:
        if server is not None:  # no weights here: the challenger's adapter goes to vLLM
            from llmspec.runtime.lora_loading import load_challenger

            local = None if uri.startswith("models:/") else Path(uri)
            return load_challenger(name, number, server, local)
        loaded = scoring_server.load_model_with_mlflow_config(f"models:/{name}/{number}")  # type: ignore[no-untyped-call]
        return loaded.unwrap_python_model()

    def tag(model: Any, number: str, route: Route | None, side: str) -> None:
        model.trace_tags = {"llmspec.model_version": f"{name}/{number}"}
        if getattr(model, "adapter", None):  # a challenger's own adapter on the model server
            model.trace_tags |= {"llmspec.adapter": model.adapter}
        if route is not None:
            model.trace_tags |= {"llmspec.rollout": route.id, "llmspec.arm": side}
        shadow = route is not None and route.strategy == "shadow" and side == "challenger"
        model.on_answer = None if shadow else metrics.answered  # /metrics counts what callers got

    router = Router(name, alias, champion, version.rpartition("/")[2], load, tag)
    stop = threading.Event()
    threading.Thread(
        target=router.follow,
        args=(lambda: client.get_registered_model(name).tags, stop),
        daemon=True,
        name="rollout-route",
    ).start()
    return router


def _followed(uri: str) -> tuple[str, str]:
    """(registered name, alias) whose rollouts this server follows; no alias for a version or
    a baked-in model (an image's). `llmspec serve` with vLLM loads the alias's version from a
    downloaded folder and names the alias in `LLMSPEC_MODEL_ALIAS`."""
    if uri.startswith("models:/"):
        name, _, alias = uri.removeprefix("models:/").partition("@")
        return name, alias
    return os.environ.get("LLMSPEC_SERVED_NAME", ""), os.environ.get("LLMSPEC_MODEL_ALIAS", "")


def _name(uri: str) -> str:
    return uri.removeprefix("models:/").split("@")[0].split("/")[0]


def _version(uri: str) -> str:
    """`name/version` of the served model: from the registry for an alias, from the
    `registered_model_meta` MLflow leaves in a downloaded registered model (an image's)."""
    if uri.startswith("models:/"):
        name, _, alias = uri.removeprefix("models:/").partition("@")
        if alias:
            from mlflow import MlflowClient

            return f"{name}/{MlflowClient().get_model_version_by_alias(name, alias).version}"
        return name  # models:/name/N already says it
    import yaml

    try:
        meta = yaml.safe_load((Path(uri) / "registered_model_meta").read_text(encoding="utf-8"))
        return f"{meta['model_name']}/{meta['model_version']}"
    except (OSError, TypeError, KeyError, yaml.YAMLError):
        return ""


def require_key(app: FastAPI, key: str) -> None:
    expected = f"Bearer {key}".encode()

    @app.middleware("http")
    async def authorize(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        given = request.headers.get("authorization", "").encode()
        if request.url.path in OPEN or hmac.compare_digest(given, expected):
            return await call_next(request)
        return _error(401, "invalid or missing API key", "invalid_api_key")


def add_metrics(app: FastAPI, metrics: ServerMetrics) -> None:
    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        request.state.started = time.perf_counter()
        response = await call_next(request)
        if not getattr(request.state, "streamed", False):  # a stream counts itself at its end
            elapsed = time.perf_counter() - request.state.started
            metrics.request(request.url.path, response.status_code, elapsed)
        return response

    @app.get("/metrics")
    async def exposition() -> Any:
        from fastapi.responses import Response

        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)


def add_chat_routes(
    app: FastAPI, router: Any, name: str, pool: ThreadPoolExecutor, metrics: ServerMetrics
) -> None:
    """``router.pick`` gives the app's `LLMAppModel` that answers a request (its `answers`
    streams, `answer` does not) and, in a shadow rollout, one that answers a copy unseen."""
    from llmspec.runtime.pyfunc import bounded

    @app.get("/v1/models")
    async def models() -> Any:
        from fastapi.responses import JSONResponse

        entry = {"id": name, "object": "model", "created": 0, "owned_by": "llmspec"}
        return JSONResponse({"object": "list", "data": [entry]})

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        try:
            body = json.loads(await request.body())
            model, shadow = router.pick(body if isinstance(body, Mapping) else {}, request.headers)
            record, history, params = chat_request(body, list(model.prompt.inputs))
        except (ValueError, TypeError) as exc:
            return _error(400, str(exc), "invalid_request_error")
        config: AppConfig = model.config
        settings = bounded(config.generation, params, config.limits)
        loop = asyncio.get_running_loop()
        if shadow is not None:  # a copy the caller never sees; its failure is its trace's
            loop.run_in_executor(pool, _quietly, shadow.answer, record, settings, history)
        if body.get("stream"):
            served = (name, pool, metrics)
            return await _streamed(model, record, history, settings, served, request, body)
        try:
            out = await loop.run_in_executor(pool, model.answer, record, settings, history)
        except Exception as exc:  # the model's own failure, reported in OpenAI's shape
            return _error(500, f"{type(exc).__name__}: {exc}", "server_error")
        from fastapi.responses import JSONResponse

        return JSONResponse(chat_response(name, out, settings, served_version(model)))


def _quietly(answer: Callable[..., Any], *args: Any) -> None:
    with contextlib.suppress(Exception):  # the shadow's trace records its error
        answer(*args)


async def _streamed(
    model: Any,
    record: Mapping[str, Any],
    history: list[dict[str, str]],
    settings: Mapping[str, Any],
    served: tuple[str, ThreadPoolExecutor, ServerMetrics],
    request: Request,
    body: Mapping[str, Any],
) -> Any:
    """Server-sent events from the model's stream. The generator runs in one pool thread (its
    trace spans all of it) and hands pieces over a queue; a client that goes away stops it,
    which closes the model server's stream too. A failure before the first piece is an
    ordinary error response; after it, an `error` event ends the stream."""
    name, pool, metrics = served
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    gone = threading.Event()

    def produce() -> None:
        answers = model.answers(record, settings, history, stream=True)
        try:
            for item in answers:
                if gone.is_set():
                    break
                loop.call_soon_threadsafe(queue.put_nowait, item)
        except BaseException as exc:
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            answers.close()
            loop.call_soon_threadsafe(queue.put_nowait, _END)

    loop.run_in_executor(pool, produce)
    first = await queue.get()
    if isinstance(first, BaseException):
        await queue.get()  # its _END
        return _error(500, f"{type(first).__name__}: {first}", "server_error")
    request.state.streamed = True
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": name,
        "system_fingerprint": served_version(model),
    }
    options = body.get("stream_options")
    usage_wanted = isinstance(options, Mapping) and bool(options.get("include_usage"))

    def event(data: Mapping[str, Any]) -> str:
        return f"data: {json.dumps(data)}\n\n"

    def chunk(delta: Mapping[str, Any], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": dict(delta), "finish_reason": finish}
        return event({**base, "choices": [choice], **extra})

    async def events() -> AsyncIterator[str]:
        item: Any = first
        try:
            yield chunk({"role": "assistant", "content": ""})
            while item is not _END:
                after = None  # an item taken from the queue but not sent yet
                if isinstance(item, BaseException):
                    metrics.broken_stream("/v1/chat/completions")
                    message = f"{type(item).__name__}: {item}"
                    yield event({"error": {"message": message, "type": "server_error"}})
                    break
                if isinstance(item, str):
                    # pieces that came while the last was sent go out as one: under load that
                    # saves an event per token, idle it changes nothing
                    pieces = [item]
                    while after is None and not queue.empty():
                        taken = queue.get_nowait()
                        if isinstance(taken, str):
                            pieces.append(taken)
                        else:
                            after = taken
                    yield chunk({"content": "".join(pieces)})
                else:  # the answer's record: the last chunk, with what OpenAI's has not
                    extra = {"sources": item["sources"], "trace_id": item["trace_id"]}
                    yield chunk({}, _finish(item, settings), **extra)
                    if usage_wanted:
                        yield event({**base, "choices": [], "usage": _usage(item)})
                item = after if after is not None else await queue.get()
            yield "data: [DONE]\n\n"
        finally:
            gone.set()  # the client went away, or the stream ended: nothing more to send
            elapsed = time.perf_counter() - request.state.started
            metrics.request(request.url.path, 200, elapsed)

    from fastapi.responses import StreamingResponse

    return StreamingResponse(events(), media_type="text/event-stream")


def add_feedback_route(app: FastAPI, model: Any) -> None:
    """`POST /v1/feedback` {trace_id, rating: up|down, comment, correction, user}, when the app
    accepts feedback (`serving.monitoring.feedback`)."""
    config = getattr(model.unwrap_python_model(), "config", None)
    if not isinstance(config, AppConfig) or not config.monitoring.feedback:
        return

    @app.post("/v1/feedback")
    async def feedback(request: Request) -> Any:
        from fastapi.responses import JSONResponse

        from llmspec.runtime.feedback import FeedbackError

        try:
            body = json.loads(await request.body())
            if not isinstance(body, Mapping) or not body.get("trace_id"):
                raise ValueError("the body needs a `trace_id`")
            given = {k: body.get(k) for k in ("rating", "comment", "correction")}
            user = str(body.get("user") or "anonymous")
            trace = str(body["trace_id"])
            ids = await asyncio.to_thread(_feedback_on_own_trace, trace, given, user)
        except (ValueError, TypeError) as exc:
            return _error(400, str(exc), "invalid_request_error")
        except FeedbackError as exc:
            return _error(404 if exc.missing_trace else 400, str(exc), "invalid_request_error")
        return JSONResponse({"trace_id": trace, "assessments": ids})


def _feedback_on_own_trace(trace: str, given: Mapping[str, Any], user: str) -> list[str]:
    """This server exports its traces in the background; a rating sent right after the answer
    (a thumbs-up under it) must find the trace, so what is queued is written first."""
    import mlflow

    from llmspec.runtime.feedback import record_feedback

    mlflow.flush_trace_async_logging()
    return record_feedback(trace, **given, user=user)


def chat_request(
    body: Any, inputs: list[str]
) -> tuple[dict[str, Any], list[dict[str, str]], dict[str, Any]]:
    """(record, earlier turns, generation params) from a chat-completions request body;
    ValueError says what is wrong with it."""
    if not isinstance(body, Mapping):
        raise ValueError("the request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("`messages` must be a non-empty list")
    if not all(isinstance(m, Mapping) for m in messages):
        raise ValueError("each message must be an object with `role` and `content`")
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    if not users:
        raise ValueError("`messages` has no user message")
    if int(body.get("n") or 1) != 1:
        raise ValueError("only `n: 1` is supported")
    extra = body.get("inputs") or {}
    if not isinstance(extra, Mapping):
        raise ValueError("`inputs` must be an object of template inputs")
    last = users[-1]
    record = {**{k: str(v) for k, v in extra.items()}, inputs[0]: _text(messages[last]["content"])}
    history = [
        {"role": str(m["role"]), "content": _text(m.get("content") or "")}
        for m in messages[:last]
        if m.get("role") in ("user", "assistant")
    ]
    params: dict[str, Any] = {}
    tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if tokens is not None:
        params["max_new_tokens"] = int(tokens)
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            params[key] = float(body[key])
    return record, history, params


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": …}]
        parts = [p for p in content if isinstance(p, Mapping) and p.get("type") == "text"]
        return "".join(str(p.get("text", "")) for p in parts)
    raise ValueError("a message's `content` must be text or a list of text parts")


def served_version(model: Any) -> str:
    """`name/version` of the model that answers: OpenAI's `system_fingerprint` (the backend
    configuration that answered) says it, so a caller sees which side of a rollout it is on."""
    tags = getattr(model, "trace_tags", None) or {}
    return str(tags.get("llmspec.model_version") or os.environ.get("LLMSPEC_MODEL_VERSION", ""))


def chat_response(
    name: str, out: Mapping[str, Any], settings: Mapping[str, Any], fingerprint: str = ""
) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": name,
        "system_fingerprint": fingerprint or None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": str(out["answer"])},
                "finish_reason": _finish(out, settings),
            }
        ],
        "usage": _usage(out),
        "sources": list(out["sources"]),  # beyond OpenAI's shape: what grounded the answer
        "trace_id": out.get("trace_id"),
    }


def _finish(out: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """`length` when the answer used all its tokens (it was cut), else `stop`."""
    return "length" if int(out["tokens_out"]) >= int(settings["max_new_tokens"]) else "stop"


def _usage(out: Mapping[str, Any]) -> dict[str, int]:
    tokens_in, tokens_out = int(out["tokens_in"]), int(out["tokens_out"])
    return {
        "prompt_tokens": tokens_in,
        "completion_tokens": tokens_out,
        "total_tokens": tokens_in + tokens_out,
    }


def _error(status: int, message: str, code: str) -> Any:
    from fastapi.responses import JSONResponse

    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": code}},
        status_code=status,
    )
