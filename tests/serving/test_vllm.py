"""`serving.runtime: vllm` for real: a spec on the built-in SmolLM2 with a LoRA fine-tune trained
here is applied, then `llmspec serve` starts vLLM's CPU build (its own virtualenv) on the base,
the adapter and a second fine-tune's adapter (staging's, the challenger), and the app server in
front of it. The official `openai` client streams a
conversation through the app; the trace names the version and the adapter; both servers'
/metrics answer; a third fine-tune applied to dev rolls out blue-green, its adapter loaded into
the running vLLM server beside the champion's; a stop leaves no process and frees both ports; a
model server killed with SIGKILL takes `llmspec serve` down with a diagnostic and no process
left behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serving.conftest import FACTS, processes_with, session_members, vllm_python
from tests.team.servers import free_port

pytestmark = pytest.mark.slow
openai = pytest.importorskip("openai")

SPEC = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata: {{name: room-codes}}
model:
  source: builtin
  id: smollm2-135m-instruct
  generation: {{max_new_tokens: 24}}
prompts:
  system: You answer questions about room codes.
  templates:
    answer: {{template: "{{{{ question }}}}"}}
finetune:
  dataset: {{train: train.jsonl}}
  lora: {{r: 8, alpha: 16, target_modules: [q_proj, v_proj], dropout: 0.0}}
  training: {{max_steps: 6, batch_size: 2, learning_rate: 1.0e-3}}
  compute: {{device: cpu}}
serving:
  runtime: vllm
  vllm:
    python: {python}
    port: {vllm_port}
    kv_cache_gib: 1
    max_model_len: 2048
    aliases: [challenger]           # staging's adapter, on the same base, beside dev's
    args: [--enable-log-requests]   # its log names the adapter each request was answered with
  registry: {{alias: dev}}
  targets: [{{kind: mlflow, port: {port}}}]
  monitoring: {{log_traces: true}}
  rollout:                          # a new version of dev's takes all traffic once loaded
    strategy: blue-green
    guards: [{{metric: error_rate}}]
environments:
  dev: {{}}
  staging:                          # another fine-tune of the same base: the challenger
    finetune: {{training: {{max_steps: 4}}}}
    serving: {{registry: {{alias: challenger}}}}
"""


def llmspec(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmspec", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> dict[str, Any]:
    python = vllm_python()
    root = tmp_path_factory.mktemp("vllm-app")
    (root / ".git").mkdir()
    records = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in FACTS
    ]
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    port, vllm_port = free_port(), free_port()
    (root / "app.yaml").write_text(SPEC.format(python=python, vllm_port=vllm_port, port=port))
    # the project's own local store: an earlier test's `mlflow.set_tracking_uri` is in
    # os.environ (MLflow puts it there for subprocesses)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["LLMSPEC_CACHE"] = str(model_cache)
    env["LLMSPEC_ROLLOUT_POLL_S"] = "0.5"
    env["VLLM_LOGGING_LEVEL"] = "INFO"  # the request log
    for environment in ("dev", "staging"):
        done = llmspec("apply", "app.yaml", "-e", environment, cwd=root, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    return {"root": root, "port": port, "vllm_port": vllm_port, "env": env}


def serve(project: dict[str, Any]) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "llmspec", "serve", "app.yaml", "-e", "dev"],
        cwd=project["root"],
        env=project["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    lines = [process.stdout.readline(), process.stdout.readline()]  # once both are healthy
    if process.poll() is not None or "serving" not in lines[0]:
        process.wait(timeout=60)
        raise AssertionError("".join(lines) + (process.stderr.read() if process.stderr else ""))
    return process, lines


@pytest.fixture(scope="module")
def served(project: dict[str, Any]) -> Iterator[dict[str, Any]]:
    process, lines = serve(project)
    yield {
        **project,
        "process": process,
        "lines": lines,
        "url": f"http://127.0.0.1:{project['port']}",
    }
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_serve_starts_vllm_on_the_adapter_and_the_app_in_front(served: dict[str, Any]) -> None:
    assert f"vLLM at http://127.0.0.1:{served['vllm_port']}/v1" in served["lines"][1]
    with urllib.request.urlopen(f"http://127.0.0.1:{served['vllm_port']}/v1/models") as response:
        models = {m["id"] for m in json.loads(response.read())["data"]}
    # the base, the alias's adapter and staging's (multi-LoRA: one base, two fine-tunes)
    assert models == {"base", "room-codes-dev", "room-codes-challenger"}
    assert "adapters: room-codes-dev, room-codes-challenger" in served["lines"][1]
    bare = openai.OpenAI(base_url=f"http://127.0.0.1:{served['vllm_port']}/v1", api_key="-")
    for model in ("room-codes-dev", "room-codes-challenger"):
        reply = bare.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Room 3?"}], max_tokens=4
        )
        assert reply.model == model and reply.usage and reply.usage.completion_tokens > 0


def test_a_conversation_streams_through_the_app_and_is_traced(served: dict[str, Any]) -> None:
    client = openai.OpenAI(base_url=f"{served['url']}/v1", api_key="unused", max_retries=0)
    conversation = [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Hello Ada."},
        {"role": "user", "content": "What is the code of room 3?"},
    ]
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model="room-codes",
        messages=conversation,
        stream=True,
        stream_options={"include_usage": True},
        max_tokens=16,
    )
    pieces, first, last, usage = [], None, None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or time.perf_counter()
            pieces.append(chunk.choices[0].delta.content)
        if chunk.choices and chunk.choices[0].finish_reason:
            last = chunk
    assert len(pieces) > 1, pieces  # streamed as generated, not one event
    assert first is not None and first - started < 30
    assert last is not None and last.model_extra and last.model_extra["trace_id"]
    assert usage is not None and 0 < usage.completion_tokens <= 16
    whole = client.chat.completions.create(model="room-codes", messages=conversation[-1:])
    assert whole.choices[0].message.content and whole.usage and whole.usage.prompt_tokens > 0

    trace = traced(served["root"], last.model_extra["trace_id"])
    tags = trace.info.tags
    assert tags["llmspec.model_version"] == "room-codes/1"
    assert tags["llmspec.adapter"] == "room-codes-dev"
    (generate,) = [s for s in trace.data.spans if s.name == "generate"]
    sent = generate.inputs["messages"]
    assert [m["role"] for m in sent][-3:] == ["user", "assistant", "user"]
    assert "Ada" in json.dumps(sent)  # the earlier turns reached the model
    assert generate.outputs == "".join(pieces).strip()


def test_both_servers_can_be_scraped(served: dict[str, Any]) -> None:
    with urllib.request.urlopen(f"{served['url']}/metrics") as response:
        text = response.read().decode()
        assert response.headers["Content-Type"].startswith("text/plain")
    label = 'model_version="room-codes/1"'
    chat = f'llmspec_requests_total{{{label},route="/v1/chat/completions",status="200"}}'
    assert any(line.startswith(chat) and float(line.split()[-1]) >= 2 for line in text.splitlines())
    assert f"llmspec_time_to_first_token_seconds_count{{{label}}}" in text
    assert f'llmspec_tokens_total{{direction="completion",{label}}}' in text
    assert "llmspec_request_latency_seconds_bucket" in text
    with urllib.request.urlopen(f"http://127.0.0.1:{served['vllm_port']}/metrics") as response:
        assert "vllm:" in response.read().decode()  # vLLM's own, beside the app's


def test_a_rollout_answers_from_the_challengers_adapter_on_the_same_base(
    served: dict[str, Any],
) -> None:
    root = served["root"]
    spec = root / "app.yaml"
    spec.write_text(spec.read_text().replace("max_steps: 6", "max_steps: 3"))  # a new version
    done = llmspec("apply", "app.yaml", "-e", "dev", cwd=root, env=served["env"])
    assert done.returncode == 0 and "blue-green" in done.stdout, done.stdout + done.stderr
    challenger = "room-codes/3"  # dev's 1 and staging's 2 came before
    client = openai.OpenAI(base_url=f"{served['url']}/v1", api_key="unused", max_retries=0)
    question = [{"role": "user", "content": "What is the code of room 3?"}]
    answered, deadline = None, time.monotonic() + 120
    while answered != challenger and time.monotonic() < deadline:  # a poll, then its load
        reply = client.chat.completions.create(model="room-codes", messages=question)
        answered = reply.system_fingerprint
        time.sleep(0.5)
    assert answered == challenger
    assert reply.choices[0].message.content and reply.usage and reply.usage.completion_tokens
    vllm = f"http://127.0.0.1:{served['vllm_port']}/v1"
    with urllib.request.urlopen(f"{vllm}/models") as response:
        models = {m["id"]: m for m in json.loads(response.read())["data"]}
    # one base, and the challenger's adapter beside the champion's (and staging's)
    assert set(models) == {"base", "room-codes-dev", "room-codes-challenger", "room-codes-v3"}
    assert models["room-codes-v3"]["parent"] == "base"
    requests = [
        line
        for line in (root / ".llmspec" / "vllm.log").read_text().splitlines()
        if "Received request" in line
    ]
    assert "lora_name='room-codes-v3'" in requests[-1], requests[-1]  # its adapter answered
    trace = traced(root, reply.model_extra["trace_id"])
    assert trace.info.tags["llmspec.adapter"] == "room-codes-v3"
    assert trace.info.tags["llmspec.arm"] == "challenger"


def traced(root: Path, trace_id: str) -> Any:
    """The server's trace of a request, once written (it writes traces in the background)."""
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{root / '.llmspec' / 'mlflow.db'}")
    trace = None
    for _ in range(100):
        trace = mlflow.get_trace(trace_id)
        if trace is not None and "llmspec.adapter" in trace.info.tags:
            break
        time.sleep(0.1)
    assert trace is not None
    return trace


def servers(project: dict[str, Any]) -> list[int]:
    """The pids of the app server and vLLM's API server (each leads a session of its own)."""
    ports = (str(project["port"]), str(project["vllm_port"]))
    return [pid for pid, argv in processes_with(*ports) if "serve" not in argv]


def gone(sessions: list[int], timeout: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and session_members(*sessions):
        time.sleep(0.5)
    return session_members(*sessions)


def test_stopping_serve_stops_both_and_frees_both_ports(served: dict[str, Any]) -> None:
    process = served["process"]
    sessions = servers(served)
    assert len(sessions) == 2, sessions
    os.kill(process.pid, signal.SIGTERM)  # as a scheduler stops it
    assert process.wait(timeout=60) == 0
    assert gone(sessions) == []  # vLLM's engine processes too
    for port in (served["port"], served["vllm_port"]):
        with socket.create_server(("127.0.0.1", port)):
            pass  # free


def test_a_killed_model_server_takes_serve_down_with_a_diagnostic(
    project: dict[str, Any], served: dict[str, Any]
) -> None:
    assert served["process"].poll() is not None  # the previous test stopped it
    process, _ = serve(project)
    sessions = servers(project)
    (vllm,) = [pid for pid, argv in processes_with(str(project["vllm_port"])) if "--model" in argv]
    os.kill(vllm, signal.SIGKILL)
    assert process.wait(timeout=90) == 1
    assert process.stderr is not None
    said = process.stderr.read()
    assert "LS810" in said and "vllm.log" in said, said
    assert gone(sessions) == []  # the app server, and the engine vLLM left orphaned
