"""The model server: MLflow's scoring app on a registered model, plus OpenAI-compatible routes.

MLflow's app brings `/ping`, `/health`, `/version` and `/invocations`. On top of it:

- `GET /v1/models` and `POST /v1/chat/completions`, so OpenAI clients (and another spec's
  `openai-compatible` source) can call the app. The last user message is the template's first
  input; other inputs come in the request's `inputs` object. The app's own prompt and
  retrieval apply; the client's system message and earlier turns do not. `stream: true` is
  answered as server-sent events (the whole answer in one chunk).
- `POST /v1/feedback` when the app accepts feedback: a rating, comment and correction on a
  request's trace (`runtime/tracing.py` traces requests; responses carry `trace_id`).
- With `LLMSPEC_SERVER_API_KEY` set, every route but the health checks needs
  `Authorization: Bearer <key>`.

Run as ``uvicorn --factory llmspec.runtime.server:create_app`` with `LLMSPEC_MODEL_URI` (and
`MLFLOW_TRACKING_URI` for a `models:/` URI) in the environment; `llmspec serve` does this.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

# at module level: FastAPI resolves the handlers' annotations in this module
from fastapi import FastAPI, Request

from llmspec.runtime.contracts import AppConfig

OPEN = frozenset({"/ping", "/health"})


def create_app() -> FastAPI:
    from mlflow.pyfunc import scoring_server

    uri = os.environ["LLMSPEC_MODEL_URI"]
    model = scoring_server.load_model_with_mlflow_config(uri)  # type: ignore[no-untyped-call]
    app: FastAPI = scoring_server.init(model)
    name = os.environ.get("LLMSPEC_SERVED_NAME") or _name(uri)
    add_chat_routes(app, model, name)
    add_feedback_route(app, model)
    key = os.environ.get("LLMSPEC_SERVER_API_KEY")
    if key:
        require_key(app, key)
    return app


def _name(uri: str) -> str:
    return uri.removeprefix("models:/").split("@")[0].split("/")[0]


def require_key(app: FastAPI, key: str) -> None:
    expected = f"Bearer {key}".encode()

    @app.middleware("http")
    async def authorize(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        given = request.headers.get("authorization", "").encode()
        if request.url.path in OPEN or hmac.compare_digest(given, expected):
            return await call_next(request)
        return _error(401, "invalid or missing API key", "invalid_api_key")


def add_chat_routes(app: FastAPI, model: Any, name: str) -> None:
    inputs = [c.name for c in model.metadata.get_input_schema().inputs]

    @app.get("/v1/models")
    async def models() -> Any:
        from fastapi.responses import JSONResponse

        entry = {"id": name, "object": "model", "created": 0, "owned_by": "llmspec"}
        return JSONResponse({"object": "list", "data": [entry]})

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        try:
            body = json.loads(await request.body())
            record, params = chat_request(body, inputs)
        except (ValueError, TypeError) as exc:
            return _error(400, str(exc), "invalid_request_error")
        try:
            frame = _frame(record, inputs)
            result = await asyncio.to_thread(model.predict, frame, params)
        except Exception as exc:  # the model's own failure, reported in OpenAI's shape
            return _error(500, f"{type(exc).__name__}: {exc}", "server_error")
        row = result.iloc[0]
        reply = chat_response(
            name,
            str(row["answer"]),
            [str(s) for s in row["sources"]],
            int(row["tokens_in"]),
            int(row["tokens_out"]),
        )
        reply["trace_id"] = row.get("trace_id") or None
        if body.get("stream"):
            from fastapi.responses import StreamingResponse

            return StreamingResponse(_events(reply), media_type="text/event-stream")
        from fastapi.responses import JSONResponse

        return JSONResponse(reply)


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


def chat_request(body: Any, inputs: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(record, generation params) from a chat-completions request body; ValueError says what
    is wrong with it."""
    if not isinstance(body, Mapping):
        raise ValueError("the request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("`messages` must be a non-empty list")
    users = [m for m in messages if isinstance(m, Mapping) and m.get("role") == "user"]
    if not users:
        raise ValueError("`messages` has no user message")
    if int(body.get("n") or 1) != 1:
        raise ValueError("only `n: 1` is supported")
    extra = body.get("inputs") or {}
    if not isinstance(extra, Mapping):
        raise ValueError("`inputs` must be an object of template inputs")
    record = {**{k: str(v) for k, v in extra.items()}, inputs[0]: _text(users[-1].get("content"))}
    params: dict[str, Any] = {}
    tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if tokens is not None:
        params["max_new_tokens"] = int(tokens)
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            params[key] = float(body[key])
    return record, params


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": …}]
        parts = [p for p in content if isinstance(p, Mapping) and p.get("type") == "text"]
        return "".join(str(p.get("text", "")) for p in parts)
    raise ValueError("a message's `content` must be text or a list of text parts")


def _frame(record: Mapping[str, Any], inputs: list[str]) -> Any:
    import pandas as pd  # type: ignore[import-untyped]

    return pd.DataFrame([{k: str(record.get(k, "")) for k in inputs}])


def chat_response(
    name: str, answer: str, sources: list[str], tokens_in: int, tokens_out: int
) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": name,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        },
        "sources": sources,  # beyond OpenAI's shape: what the answer was grounded on
    }


async def _events(reply: Mapping[str, Any]) -> AsyncIterator[str]:
    base = {k: reply[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    content = reply["choices"][0]["message"]["content"]
    first = {"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": None}
    last = {"index": 0, "delta": {}, "finish_reason": "stop"}
    yield f"data: {json.dumps({**base, 'choices': [first], 'sources': reply['sources']})}\n\n"
    yield f"data: {json.dumps({**base, 'choices': [last], 'usage': reply['usage']})}\n\n"
    yield "data: [DONE]\n\n"


def _error(status: int, message: str, code: str) -> Any:
    from fastapi.responses import JSONResponse

    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": code}},
        status_code=status,
    )
