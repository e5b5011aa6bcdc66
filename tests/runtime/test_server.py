"""The model server's `/v1/feedback` route on feedback it cannot record: the status and the text
of each answer (the route is called directly; MLflow's trace store is stood in for)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from types import SimpleNamespace
from typing import Any

import pytest

from tests.runtime.test_runtime_alone import APP

pytest.importorskip("fastapi")
pytest.importorskip("mlflow")


def feedback_app(feedback: bool) -> Any:
    from fastapi import FastAPI

    from llmspec.runtime.server import add_feedback_route

    config = dataclasses.replace(
        APP, monitoring=dataclasses.replace(APP.monitoring, feedback=feedback)
    )
    app = FastAPI()
    add_feedback_route(
        app, SimpleNamespace(unwrap_python_model=lambda: SimpleNamespace(config=config))
    )
    return app


def post(app: Any, body: bytes) -> tuple[int, dict[str, Any]]:
    from starlette.requests import Request

    route = next(r for r in app.routes if getattr(r, "path", "") == "/v1/feedback")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/v1/feedback", "headers": []}
    response = asyncio.run(route.endpoint(Request(scope, receive)))
    return response.status_code, json.loads(response.body)


@pytest.fixture
def no_traces(monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow

    monkeypatch.setattr(mlflow, "get_trace", lambda trace_id: None)
    monkeypatch.setattr(mlflow, "flush_trace_async_logging", lambda: None)
    monkeypatch.setattr(mlflow, "get_tracking_uri", lambda: "sqlite:///traces.db")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        pytest.param(b"[1]", 400, "the body needs a `trace_id`", id="no-trace-id"),
        pytest.param(b"{", 400, "Expecting property name", id="not-json"),
        pytest.param(
            b'{"trace_id": "tr-1"}',
            400,
            "give a --rating, a --comment or a --correction",
            id="empty",
        ),
        pytest.param(
            b'{"trace_id": "tr-1", "rating": "meh"}',
            400,
            "rating `meh` is not one of: up, down",
            id="rating",
        ),
        pytest.param(
            b'{"trace_id": "tr-1", "rating": "up"}',
            404,
            "no trace `tr-1` in sqlite:///traces.db",
            id="unknown-trace",
        ),
    ],
)
def test_feedback_that_cannot_be_recorded_is_answered_as_an_openai_error(
    no_traces: None, body: bytes, status: int, message: str
) -> None:
    got, reply = post(feedback_app(True), body)
    assert got == status
    assert reply["error"]["message"].startswith(message)
    assert reply["error"]["code"] == reply["error"]["type"] == "invalid_request_error"


def test_an_app_without_feedback_has_no_route() -> None:
    paths = [getattr(r, "path", "") for r in feedback_app(False).routes]
    assert "/v1/feedback" not in paths
