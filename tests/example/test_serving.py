"""Serving the example over real HTTP: MLflow's `/invocations` and the OpenAI-compatible routes,
behind an API key; then a second spec whose `openai-compatible` model is the served example,
applied (packaged, evaluated through HTTP, gated, promoted) and served in turn."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.example.support import KEY, free_port, llmspec, outputs, post, start

pytestmark = pytest.mark.slow
pytest.importorskip("mlflow")
openai = pytest.importorskip("openai")

QUESTION = "Who can change the billing contact?"


@pytest.fixture(scope="module")
def served(applied: dict[str, Any]) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "SUPPORT_BOT_SERVE_KEY": KEY}
    server = start(
        applied["repo"], "specs/support-bot.yaml", port,
        "--api-key-env", "SUPPORT_BOT_SERVE_KEY", env=env,
    )  # fmt: skip
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)


def test_invocations_answer_with_sources(served: str) -> None:
    body = {"dataframe_records": [{"question": QUESTION}]}
    (answer,) = post(f"{served}/invocations", body)["predictions"]
    assert answer["answer"] == "Only owners."
    assert any(s.endswith("billing/invoices.md") for s in answer["sources"])
    assert answer["tokens_out"] > 0


def test_without_the_key_only_the_health_checks_answer(served: str) -> None:
    with urllib.request.urlopen(f"{served}/ping", timeout=10) as response:
        assert response.status == 200
    for path in ("/invocations", "/v1/chat/completions"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            post(f"{served}{path}", {"dataframe_records": [{"question": QUESTION}]}, key="wrong")
        assert refused.value.code == 401
        assert json.loads(refused.value.read())["error"]["code"] == "invalid_api_key"


def test_an_openai_client_gets_the_answer_and_its_sources(served: str) -> None:
    client = openai.OpenAI(base_url=f"{served}/v1", api_key=KEY, max_retries=0)
    assert [m.id for m in client.models.list()] == ["support-bot"]
    messages = [
        {"role": "system", "content": "The app's own prompt applies, not this one."},
        {"role": "user", "content": QUESTION},
    ]
    reply = client.chat.completions.create(model="support-bot", messages=messages)
    assert reply.choices[0].message.content == "Only owners."
    assert reply.choices[0].finish_reason == "stop"
    assert any(s.endswith("billing/invoices.md") for s in reply.model_extra["sources"])
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    chunks = list(
        client.chat.completions.create(model="support-bot", messages=messages, stream=True)
    )
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert "".join(pieces) == "Only owners." and len(pieces) > 1  # as transformers decodes it
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].model_extra["sources"]
    with pytest.raises(openai.BadRequestError, match="no user message"):
        client.chat.completions.create(model="support-bot", messages=messages[:1])
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{served}/v1", api_key="wrong", max_retries=0).models.list()


def test_metrics_count_what_was_served(served: str) -> None:
    client = openai.OpenAI(base_url=f"{served}/v1", api_key=KEY, max_retries=0)
    turns = [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi, how can I help?"},
        {"role": "user", "content": QUESTION},
    ]
    reply = client.chat.completions.create(model="support-bot", messages=turns)
    assert reply.choices[0].message.content  # earlier turns are taken, within the window
    with urllib.request.urlopen(f"{served}/metrics", timeout=10) as response:  # no key needed
        text = response.read().decode()
    rows = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}  # fmt: skip
    chat = [v for k, v in rows.items() if k.startswith("llmspec_requests_total{")
            and 'route="/v1/chat/completions"' in k and 'status="200"' in k]  # fmt: skip
    assert chat and chat[0] >= 1
    refused = [v for k, v in rows.items() if k.startswith("llmspec_request_errors_total{")]
    assert refused and refused[0] >= 1  # the 401s and the 400 above
    completion = [v for k, v in rows.items() if k.startswith("llmspec_tokens_total{")
                  and 'direction="completion"' in k]  # fmt: skip
    assert completion and completion[0] > 0


GATEWAY = """\
    # support answers through the served support-bot, as any OpenAI-compatible API
    apiVersion: llmspec/v1
    kind: LLMApp
    metadata: {{name: support-gateway, owner: test}}
    model:
      source: openai-compatible
      base_url: {base_url}
      id: support-bot
      api_key: ${{secret:SUPPORT_BOT_KEY}}
      generation: {{max_new_tokens: 32}}
    prompts:
      templates:
        ask: {{template: "{{{{ question }}}}", inputs: [question]}}
    evaluation:
      datasets: {{golden: data/support-bot/eval.jsonl}}
      metrics:
        - rouge_l
        - latency_p95_ms
        - name: same_as_reference
          judge:
            model: {{source: builtin, id: smollm2-135m-instruct}}
            rubric: Does the answer say what the reference answer says? 2 means yes, 1 no.
            scale: 2
      gates:
        - {{metric: rouge_l, op: ">=", value: 0.3, min_examples: 10}}
    serving:
      registry: {{alias: dev}}
      targets: [{{kind: mlflow, port: 5001}}]
    environments:
      dev: {{}}
"""


def test_a_spec_served_through_another_answers_over_http(
    applied: dict[str, Any], served: str, model_cache: Path
) -> None:
    repo = applied["repo"]
    (repo / "specs" / "support-gateway.yaml").write_text(
        textwrap.dedent(GATEWAY.format(base_url=f"{served}/v1"))
    )
    without = {k: v for k, v in os.environ.items() if k != "SUPPORT_BOT_KEY"}
    without["LLMSPEC_CACHE"] = str(model_cache)  # the judge's converted model, shared
    missing = subprocess.run(
        [sys.executable, "-m", "llmspec", "apply", "specs/support-gateway.yaml", "-e", "dev"],
        cwd=repo, capture_output=True, text=True, env=without,
    )  # fmt: skip
    assert missing.returncode == 1
    assert "LS811" in missing.stderr and "SUPPORT_BOT_KEY" in missing.stderr, missing.stderr
    env = {**without, "SUPPORT_BOT_KEY": KEY}
    done = subprocess.run(
        [sys.executable, "-m", "llmspec", "apply", "specs/support-gateway.yaml", "-e", "dev"],
        cwd=repo, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rouge_l >= 0.3" in done.stdout and "pass" in done.stdout

    import mlflow

    shown = llmspec("state", "show", "specs/support-gateway.yaml", "-e", "dev", "--json", cwd=repo)
    state = json.loads(shown.stdout)
    package = state["resources"]["package.support-gateway"]["outputs"]
    judged = state["resources"]["eval.support-gateway"]["outputs"]["metrics"]["same_as_reference"]
    assert judged["n"] == 10 and 0.0 <= judged["low"] <= judged["value"] <= judged["high"] <= 1.0
    assert package["tracking_uri"] == outputs(applied, "package.support-bot")["tracking_uri"]
    mlflow.set_tracking_uri(package["tracking_uri"])
    folder = Path(mlflow.artifacts.download_artifacts(package["model_uri"]))
    app = json.loads((folder / "artifacts" / "app.json").read_text())
    assert app["model"]["api_key"] == "SUPPORT_BOT_KEY"  # the secret's name, never its value
    assert not any(KEY in p.read_text(errors="ignore") for p in folder.rglob("*") if p.is_file())
    assert not (folder / "artifacts" / "model").exists()  # nothing to ship: the model is remote

    port = free_port()
    gateway = start(repo, "specs/support-gateway.yaml", port, env=env)
    try:
        body = {"dataframe_records": [{"question": QUESTION}]}
        (answer,) = post(f"http://127.0.0.1:{port}/invocations", body, key=None)["predictions"]
        assert answer["answer"] == "Only owners."
        assert answer["tokens_in"] > 0 and answer["tokens_out"] > 0  # the served model's usage
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)
    with socket.socket() as again:  # nothing listens any more: the server went with it
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
        again.bind(("127.0.0.1", port))
        again.listen()


def test_requests_are_traced_and_take_feedback_by_http_and_by_cli(
    applied: dict[str, Any], served: str
) -> None:
    import time

    import mlflow

    tracking = outputs(applied, "package.support-bot")["tracking_uri"]
    body = {"dataframe_records": [{"question": QUESTION}]}
    (answer,) = post(f"{served}/invocations", body)["predictions"]
    trace_id = answer["trace_id"]
    assert trace_id
    mlflow.set_tracking_uri(tracking)
    trace = None
    for _ in range(120):  # the server exports spans as they end, then the trace's tags
        trace = mlflow.get_trace(trace_id)
        if (
            trace is not None
            and any(s.name == "answer" for s in trace.data.spans)
            and "llmspec.model_version" in trace.info.tags
        ):
            break
        time.sleep(0.25)
    assert trace is not None
    spans = {s.name: s for s in trace.data.spans}
    assert set(spans) == {"answer", "retrieve", "generate"}
    assert any(d["doc_uri"].endswith("billing/invoices.md") for d in spans["retrieve"].outputs)
    assert spans["answer"].inputs == {"question": QUESTION}
    assert spans["answer"].outputs["answer"] == "Only owners."
    assert spans["generate"].attributes["tokens_out"] == answer["tokens_out"]
    tags = trace.info.tags
    version = outputs(applied, "promote.support-bot@dev")["version"]
    assert tags["llmspec.model_version"] == f"support-bot/{version}"
    assert tags["llmspec.env"] == "dev"
    assert tags["llmspec.prompt_version"] == "prompts:/support-bot.answer/1"

    client = openai.OpenAI(base_url=f"{served}/v1", api_key=KEY, max_retries=0)
    reply = client.chat.completions.create(
        model="support-bot", messages=[{"role": "user", "content": QUESTION}]
    )
    assert reply.model_extra["trace_id"] and reply.model_extra["trace_id"] != trace_id

    given = {"trace_id": trace_id, "rating": "up", "comment": "right and short", "user": "qa"}
    assert len(post(f"{served}/v1/feedback", given)["assessments"]) == 1
    with pytest.raises(urllib.error.HTTPError) as missing:
        post(f"{served}/v1/feedback", {"trace_id": "tr-unknown", "rating": "up"})
    assert missing.value.code == 404
    by_cli = llmspec(
        "feedback", trace_id, "--rating", "down", "--correction", "Only the owner can.",
        "--tracking-uri", tracking, cwd=applied["repo"],
    )  # fmt: skip
    assert by_cli.returncode == 0, by_cli.stderr
    unknown = llmspec("feedback", "tr-unknown", "--rating", "up", "--tracking-uri", tracking,
                      cwd=applied["repo"])  # fmt: skip
    assert unknown.returncode == 1 and "LS830" in unknown.stderr
    assessments = mlflow.get_trace(trace_id).info.assessments
    ratings = sorted(
        (a.source.source_id, a.value, a.rationale) for a in assessments if a.name == "user_rating"
    )
    assert ("qa", True, "right and short") in ratings and any(r[1] is False for r in ratings)
    (expected,) = [a for a in assessments if a.name == "expected_response"]
    assert expected.value == "Only the owner can."

    # the spec's alert `feedback_positive_rate >= 0.7` (over 24h, action: retrain) fires on
    # one up and one down, and marks the fine-tune for retraining
    watched = llmspec("monitor", "specs/support-bot.yaml", "-e", "dev", "--format", "json",
                      "--html", "reports/monitor.html", cwd=applied["repo"])  # fmt: skip
    assert watched.returncode == 1, watched.stdout + watched.stderr
    report = json.loads(watched.stdout)
    found = report["figures"]
    assert found["request_count"] >= 2 and found["error_rate"] == 0
    assert found["feedback_count"] == 2 and found["feedback_positive_rate"] == 0.5
    assert found["latency_p50_ms"] > 0 and found["tokens_out_mean"] > 0
    firing = [(a["alert"], a["window"]) for a in report["alerts"] if not a["passed"]]
    assert ("feedback_positive_rate >= 0.7", "24h") in firing
    assert report["marked_for_retraining"] == ["finetune.support-bot"]
    page = (applied["repo"] / "reports" / "monitor.html").read_text()
    assert page.count("<svg") == 5 and "FIRING" in page
    text = llmspec("monitor", "specs/support-bot.yaml", "-e", "dev", cwd=applied["repo"])
    assert "FIRING (retrain)" in text.stdout and "request_count" in text.stdout
    unwritable = llmspec("monitor", "specs/support-bot.yaml", "-e", "dev", "--html",
                         "specs/support-bot.yaml/report.html", cwd=applied["repo"])  # fmt: skip
    assert unwritable.returncode == 1 and "LS841" in unwritable.stderr
    planned = llmspec("plan", "specs/support-bot.yaml", "-e", "dev", cwd=applied["repo"])
    assert "-/+ finetune.support-bot" in planned.stdout
    assert "marked for rebuilding by monitor" in planned.stdout
    assert "feedback_positive_rate >= 0.7 failed over 24h (0.5)" in planned.stdout

    # the corrected request becomes a fine-tune record, and an apply trains on it
    exported = llmspec("feedback", "export", "specs/support-bot.yaml", "-e", "dev",
                       "--output", "specs/data/feedback.jsonl", cwd=applied["repo"])  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    lines = (applied["repo"] / "specs" / "data" / "feedback.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    corrected = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "Only the owner can."},
    ]
    assert {"messages": corrected} in records
    trained = llmspec("apply", "specs/support-bot.yaml", "-e", "dev",
                      "--set", "finetune.dataset.train=data/feedback.jsonl",
                      "--target", "finetune.support-bot", cwd=applied["repo"])  # fmt: skip
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert f"training on {len(records)} examples" in trained.stdout
    shown = llmspec("state", "show", "specs/support-bot.yaml", "-e", "dev", cwd=applied["repo"])
    assert "marked for rebuilding" not in shown.stdout  # the retraining cleared the mark
