"""Webhook notifications, posted to a real HTTP receiver on loopback: the Slack-shaped body,
the secret URL, retries and their backoff, timeouts, refusals, and diagnostics that never
quote the URL."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from llmspec.api import resolve
from llmspec.core.diagnostics import Severity
from llmspec.frontend import ResolvedSpec
from llmspec.operate.monitor import AlertResult, MonitorReport
from llmspec.operate.notify import (
    BACKOFF_CAP_S,
    BACKOFF_S,
    RETRY_AFTER_CAP_S,
    Event,
    alert_events,
    notify,
    payload,
)
from tests.conftest import MINIMAL

TOKEN = "/services/T0001/B0002/xyzSECRETxyz"  # the part of a Slack URL that is the credential
EVENT = Event("rollout", "canary at 25%", "`helpfulness` holds", {"step": "2 of 4"})


@dataclass
class Answer:
    status: int = 200
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"


@dataclass
class Receiver:
    """A webhook receiver: answers from ``script`` in turn (the last one again once it runs
    out) and records every request it got."""

    port: int
    script: list[Answer]
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{TOKEN}"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours proxy variables; the receiver is on loopback."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(0, [Answer()])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            record = {"path": self.path, "headers": dict(self.headers), "body": body}
            state.requests.append(record)
            answer = state.script[min(len(state.requests), len(state.script)) - 1]
            time.sleep(answer.delay_s)
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body.encode())
            except OSError:  # the client gave up waiting
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    # a short poll, so that shutdown() returns at once
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def spec_with(write: Callable[..., Path]) -> Callable[..., ResolvedSpec]:
    """A resolved spec whose `serving.notifications.webhooks` are the YAML lines given."""

    def make(*hooks: str) -> ResolvedSpec:
        lines = "".join(f"      - {hook}\n" for hook in hooks)
        text = MINIMAL + "serving:\n  notifications:\n    webhooks:\n" + lines
        return resolve(write("app.yaml", text))

    return make


def sent(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in receiver.requests]


def test_the_body_is_slack_shaped_json_sent_to_the_secret_url(
    receiver: Receiver, spec_with: Callable[..., ResolvedSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", receiver.url)
    assert notify(spec_with("url: ${secret:HOOK_URL}"), EVENT) == []
    [request] = receiver.requests
    assert request["path"] == TOKEN
    assert request["headers"]["Content-Type"] == "application/json"
    [body] = sent(receiver)
    assert body["text"] == "demo (default): canary at 25%: `helpfulness` holds"
    header, section, fields, context = body["blocks"]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert "canary at 25%" in header["text"]["text"]
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": "`helpfulness` holds"}}
    assert fields["fields"] == [{"type": "mrkdwn", "text": "*step*\n2 of 4"}]
    assert context["type"] == "context"
    assert body["llmspec"] == {
        "kind": "rollout",
        "level": "info",
        "app": "demo",
        "env": "default",
        "title": "canary at 25%",
        "text": "`helpfulness` holds",
        "fields": {"step": "2 of 4"},
    }


def test_payload_keeps_to_block_kit_limits_and_escapes_markup() -> None:
    many = {f"f{i}": "<!channel> & co" for i in range(12)}
    body = payload(Event("alert", "x" * 300, "a < b", many, "danger"), "app", "prod")
    header = body["blocks"][0]["text"]["text"]
    assert len(header) == 150 and header.startswith(":red_circle: app (prod)")
    assert body["blocks"][1]["text"]["text"] == "a &lt; b"
    sections = [b for b in body["blocks"] if "fields" in b]
    assert [len(s["fields"]) for s in sections] == [10, 2]
    assert sections[0]["fields"][0]["text"] == "*f0*\n&lt;!channel&gt; &amp; co"
    assert "<!channel>" not in body["text"] and body["llmspec"]["fields"]["f0"] == "<!channel> & co"


def test_a_bare_spec_is_enough(receiver: Receiver, spec_with: Callable[..., ResolvedSpec]) -> None:
    resolved = spec_with(f"url: {receiver.url}")
    assert notify(resolved.spec, EVENT) == []
    assert sent(receiver)[0]["llmspec"]["env"] == "default"


def test_5xx_is_retried_with_backoff_until_it_is_taken(
    receiver: Receiver, spec_with: Callable[..., ResolvedSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", receiver.url)
    receiver.script = [Answer(500), Answer(500), Answer(200)]
    waits: list[float] = []
    assert notify(spec_with("url: ${secret:HOOK_URL}"), EVENT, sleep=waits.append) == []
    assert len(receiver.requests) == 3
    assert waits == [BACKOFF_S, BACKOFF_S * 2]
    assert sent(receiver)[0] == sent(receiver)[2]


def test_a_receiver_that_always_fails_gives_ls875_after_every_attempt(
    receiver: Receiver, spec_with: Callable[..., ResolvedSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", receiver.url)
    receiver.script = [Answer(503, body=f"down, try {receiver.url} later")]
    waits: list[float] = []
    hook = "{url: '${secret:HOOK_URL}', retries: 5}"
    [found] = notify(spec_with(hook), EVENT, sleep=waits.append)
    assert len(receiver.requests) == 6
    assert waits == [min(BACKOFF_S * 2**i, BACKOFF_CAP_S) for i in range(5)]
    assert found.code == "LS875" and found.severity is Severity.WARNING
    assert "webhook 0 (${secret:HOOK_URL})" in found.message
    assert "HTTP 503" in found.message and "after 6 attempts" in found.message
    assert (
        found.span is not None
        and found.span.file == "app.yaml"
        and found.span.line == MINIMAL.count("\n") + 4
    )
    assert receiver.url not in found.message and TOKEN not in found.message


def test_429_waits_as_long_as_retry_after_says_within_a_cap(
    receiver: Receiver, spec_with: Callable[..., ResolvedSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", receiver.url)
    slow_down = {"Retry-After": "2"}
    receiver.script = [Answer(429, headers=slow_down), Answer(429, headers={"Retry-After": "900"})]
    receiver.script.append(Answer(200))
    waits: list[float] = []
    assert notify(spec_with("url: ${secret:HOOK_URL}"), EVENT, sleep=waits.append) == []
    assert waits == [2.0, RETRY_AFTER_CAP_S]


def test_4xx_is_final_and_the_answer_is_told_without_the_url(
    receiver: Receiver, spec_with: Callable[..., ResolvedSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", receiver.url)
    receiver.script = [Answer(400, body=f"invalid_payload at {TOKEN}")]
    waits: list[float] = []
    [found] = notify(spec_with("url: ${secret:HOOK_URL}"), EVENT, sleep=waits.append)
    assert len(receiver.requests) == 1 and waits == []
    assert "HTTP 400 (invalid_payload at …)" in found.message
    assert "after 1 attempt" in found.message and "retrying would not help" in (found.hint or "")
    assert TOKEN not in found.message


def test_a_receiver_slower_than_the_timeout_gives_ls875(
    receiver: Receiver, spec_with: Callable[..., ResolvedSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", receiver.url)
    receiver.script = [Answer(delay_s=0.6)]
    hook = "{url: '${secret:HOOK_URL}', timeout_s: 0.2, retries: 1}"
    started = time.monotonic()
    [found] = notify(spec_with(hook), EVENT, sleep=lambda s: None)
    assert time.monotonic() - started < 1.0
    assert len(receiver.requests) == 2
    assert "no answer within 0.2 s, after 2 attempts" in found.message


def test_a_closed_port_gives_ls875_naming_only_the_host(
    spec_with: Callable[..., ResolvedSpec],
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}{TOKEN}"
    [found] = notify(spec_with(f"{{url: '{url}', retries: 2}}"), EVENT, sleep=lambda s: None)
    assert found.code == "LS875"
    assert f"webhook 0 (127.0.0.1:{port})" in found.message
    assert "connection refused, after 3 attempts" in found.message
    assert TOKEN not in found.message and url not in found.message


def test_a_missing_secret_is_a_note_naming_the_secret(
    receiver: Receiver, spec_with: Callable[..., ResolvedSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOOK_URL", raising=False)
    [found] = notify(spec_with("url: ${secret:HOOK_URL}"), EVENT)
    assert found.code == "LS875" and found.severity is Severity.NOTE
    assert "secret HOOK_URL is not set" in found.message
    assert receiver.requests == []


def test_each_webhook_gets_only_the_events_it_asked_for(
    receiver: Receiver, spec_with: Callable[..., ResolvedSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLLOUTS", receiver.url + "/rollouts")
    monkeypatch.setenv("ALERTS", receiver.url + "/alerts")
    resolved = spec_with(
        "{url: '${secret:ROLLOUTS}', events: [rollout]}",
        "{url: '${secret:ALERTS}', events: [alert]}",
    )
    alert = Event("alert", "alert fired", level="warning")
    assert notify(resolved, EVENT) == [] and notify(resolved, alert) == []
    paths = [r["path"] for r in receiver.requests]
    assert paths == [TOKEN + "/rollouts", TOKEN + "/alerts"]
    assert [b["llmspec"]["kind"] for b in sent(receiver)] == ["rollout", "alert"]


def test_only_failing_webhooks_are_reported_each_by_its_index(
    receiver: Receiver, spec_with: Callable[..., ResolvedSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOD", receiver.url)
    resolved = spec_with("url: ${secret:GOOD}", "url: ${secret:GONE}")
    [found] = notify(resolved, EVENT)
    assert found.message.startswith("webhook 1 (${secret:GONE})")
    assert len(receiver.requests) == 1


def test_alert_events_are_one_per_firing_alert() -> None:
    alerts = [
        AlertResult("error_rate <= 0.05", 0.125, False, "notify", "1h"),
        AlertResult("latency_p95_ms <= 800", 410.0, True, "notify", "1h"),
        AlertResult("feedback_positive_rate >= 0.7", None, True, "retrain", "7d"),
        AlertResult("feedback_positive_rate >= 0.8", 0.5, False, "retrain", "7d"),
    ]
    report = MonitorReport("demo", "prod", "24h", {}, alerts, ["finetune.adapter"])
    assert report.firing
    first, second = alert_events(report)
    assert first == Event(
        "alert",
        "alert `error_rate <= 0.05` fired",
        "`error_rate <= 0.05` does not hold over the last 1h: the figure is 0.125.",
        {"condition": "error_rate <= 0.05", "value": "0.125", "window": "1h"},
        "warning",
    )
    assert second.fields["marked for retraining"] == "finetune.adapter"
    assert alert_events(MonitorReport("demo", "prod", "24h", {}, alerts[1:3], [])) == []
