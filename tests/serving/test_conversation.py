"""What the app server makes of a chat request, without a model: the conversation's earlier
turns within the context window, the request's parts, and the metrics it exposes."""

from __future__ import annotations

import pytest

from llmspec.runtime.prompting import estimated_tokens, with_history

PROMPT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q: last?"}]
TURNS = [
    {"role": "user", "content": "first " * 40},
    {"role": "assistant", "content": "answer one"},
    {"role": "user", "content": "second"},
    {"role": "assistant", "content": "answer two"},
]


def test_earlier_turns_go_between_the_apps_system_message_and_the_last_turn() -> None:
    messages = with_history(PROMPT, TURNS, context_window=4096, answer_tokens=64)
    assert messages == [PROMPT[0], *TURNS, PROMPT[1]]


def test_the_oldest_turns_go_first_when_the_window_is_short() -> None:
    # room for the prompt, the answer and the last two turns, not for the long first one
    room = estimated_tokens(PROMPT) + 64 + estimated_tokens(TURNS[1:])
    messages = with_history(PROMPT, TURNS, context_window=room, answer_tokens=64)
    # what is kept starts on a user turn: the orphaned "answer one" goes too
    assert messages == [PROMPT[0], TURNS[2], TURNS[3], PROMPT[1]]
    assert with_history(PROMPT, TURNS, context_window=None, answer_tokens=64) == PROMPT
    assert with_history(PROMPT, [], context_window=4096, answer_tokens=64) == PROMPT


def test_a_chat_request_splits_into_record_turns_and_settings() -> None:
    pytest.importorskip("fastapi")
    from llmspec.runtime.server import chat_request

    body = {
        "messages": [
            {"role": "system", "content": "ignored: the app's prompt applies"},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": [{"type": "text", "text": "Room 3?"}]},
        ],
        "max_tokens": 12,
        "temperature": 0,
        "inputs": {"product": "doors"},
    }
    record, history, params = chat_request(body, ["question", "product"])
    assert record == {"question": "Room 3?", "product": "doors"}
    assert history == [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    assert params == {"max_new_tokens": 12, "temperature": 0.0}
    for bad, said in [
        ({"messages": []}, "non-empty"),
        ({"messages": ["hi"]}, "each message"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, "no user message"),
        ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "n: 1"),
    ]:
        with pytest.raises(ValueError, match=said):
            chat_request(bad, ["question"])


def test_metrics_are_labelled_with_the_version_and_leave_probes_out() -> None:
    pytest.importorskip("prometheus_client")
    from llmspec.runtime.server_metrics import ServerMetrics

    metrics = ServerMetrics("bot/3")
    metrics.request("/v1/chat/completions", 200, 0.2)
    metrics.request("/v1/chat/completions", 500, 0.1)
    metrics.request("/ping", 200, 0.001)
    metrics.answered({"tokens_in": 7, "tokens_out": 5, "ttft_ms": 30.0}, streamed=True)
    body, content_type = metrics.exposition()
    text = body.decode()
    assert content_type.startswith("text/plain")
    v = 'model_version="bot/3"'
    assert f'llmspec_requests_total{{{v},route="/v1/chat/completions",status="200"}} 1.0' in text
    assert f'llmspec_request_errors_total{{{v},route="/v1/chat/completions"}} 1.0' in text
    assert f'llmspec_tokens_total{{direction="prompt",{v}}} 7.0' in text
    assert f'llmspec_time_to_first_token_seconds_bucket{{le="0.05",{v}}} 1.0' in text
    assert "/ping" not in text


def test_a_model_server_that_is_down_is_a_connection_error_not_a_hang() -> None:
    pytest.importorskip("openai")
    from llmspec.runtime.contracts import EndpointConfig
    from llmspec.runtime.llm import EndpointChat
    from tests.team.servers import free_port

    chat = EndpointChat(
        [EndpointConfig(f"http://127.0.0.1:{free_port()}/v1", "base", None)],
        timeout_s=5,
        max_retries=0,
    )
    settings = {"max_new_tokens": 8, "temperature": 0.0, "top_p": 1.0, "stop": []}
    with pytest.raises(ConnectionError, match="every endpoint failed"):
        list(chat.stream([{"role": "user", "content": "hi"}], settings))
    with pytest.raises(ConnectionError, match="every endpoint failed"):
        chat.complete([{"role": "user", "content": "hi"}], settings)
