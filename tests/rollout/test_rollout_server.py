"""A rollout against the real app server: version 1 is the champion; version 2, which answers
at length (its online judge scores it low, its latency is higher), rolls out as a canary and
is rolled back before the 50% step; version 3, which answers briefly, rolls out and is
promoted. Requests go through the official OpenAI client, each from its own user; the server
follows the registry's route with no restart; the decisions read the traces and the online
judge's assessments the same run wrote, through `llmspec rollout advance`."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.example.support import free_port

pytestmark = pytest.mark.slow
openai = pytest.importorskip("openai")

SPEC = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata:
  name: canary-bot
model:
  source: builtin
  id: tiny-gpt2
  generation: {{max_new_tokens: {tokens}, temperature: 0.0}}
prompts:
  templates:
    answer:
      template: "Q: {{{{ question }}}} A:"
evaluation:
  datasets:
    golden: data/eval.jsonl
  metrics:
    - answer_length
    - {{name: brevity, function: "judges:brevity"}}
  gates:
    - {{metric: answer_length, op: ">=", value: 0}}
serving:
  registry: {{alias: champion}}
  targets: [{{kind: mlflow}}]
  monitoring:
    judges: [{{metric: brevity}}]
    feedback: true
  rollout:
    strategy: canary
    steps: [10, 25, 50, 100]
    hold: 1s
    min_requests: 12
    alpha: 0.05
    guards:
      - {{metric: brevity, margin: 0.05}}
      - {{metric: latency_ms}}
  notifications:
    webhooks:
      - {{url: "http://127.0.0.1:{hook}/rollouts", events: [rollout]}}
      - {{url: "http://127.0.0.1:9/unreachable", retries: 0, timeout_s: 0.2}}
environments:
  dev: {{}}
"""
# the online judge: a plug-in of the app's repository, scoring each served answer
JUDGE = '''\
def brevity(record, prediction):
    """1 for an answer of at most 12 tokens, else 0."""
    return 1.0 if prediction["tokens_out"] <= 12 else 0.0
'''
QUESTIONS = ["How do I reset my password?", "Who can change the billing contact?"]


def cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "llmspec", *args], cwd=repo, capture_output=True, text=True,
        env=env, timeout=900,
    )  # fmt: skip


class Hook(http.server.BaseHTTPRequestHandler):
    """A webhook receiver: what Slack would get."""

    got: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.got.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hook() -> Iterator[int]:
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    yield int(receiver.server_address[1])
    receiver.shutdown()


HOOK_PORT: list[int] = []


def release(repo: Path, tokens: int) -> subprocess.CompletedProcess[str]:
    (repo / "app.yaml").write_text(SPEC.format(tokens=tokens, hook=HOOK_PORT[0]))
    done = cli(repo, "apply", "app.yaml", "-e", "dev")
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, hook: int) -> Path:
    HOOK_PORT.append(hook)
    root = tmp_path_factory.mktemp("rollout")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "data").mkdir()
    records = [{"question": q, "answer": "See the help center."} for q in QUESTIONS]
    (root / "data" / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (root / "judges.py").write_text(JUDGE)
    release(root, 12)  # version 1: the champion, brief
    return root


@pytest.fixture(scope="module")
def server(repo: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["LLMSPEC_ROLLOUT_POLL_S"] = "0.3"
    process = subprocess.Popen(
        [sys.executable, "-m", "llmspec", "serve", "app.yaml", "-e", "dev", "--port", str(port)],
        cwd=repo, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    assert f"at http://127.0.0.1:{port}" in line, line
    yield f"http://127.0.0.1:{port}/v1"
    process.terminate()
    process.wait(timeout=30)


def ask(url: str, users: range) -> Counter[str]:
    """One question from each user; which version answered, by its fingerprint."""
    client = openai.OpenAI(base_url=url, api_key="none", max_retries=0)

    def one(user: int) -> str:
        reply = client.chat.completions.create(
            model="canary-bot",
            messages=[{"role": "user", "content": QUESTIONS[user % 2]}],
            user=f"user-{user}",
        )
        return str(reply.system_fingerprint)

    with ThreadPoolExecutor(4) as pool:
        return Counter(pool.map(one, users))


def wait_for(url: str, version: str, users: range) -> None:
    """Until the server has loaded the challenger the registry names (a poll and a load)."""
    deadline = time.monotonic() + 120
    while f"canary-bot/{version}" not in ask(url, users):
        assert time.monotonic() < deadline, f"version {version} never answered"
        time.sleep(0.5)


def steer(repo: Path, url: str, first_user: int) -> tuple[dict[str, Any], list[int], float]:
    """Traffic and `rollout advance` until the rollout ends: its last status, the share at
    each decision, and the slowest decision's seconds."""
    shares, slowest, user = [], 0.0, first_user
    for _ in range(25):
        ask(url, range(user, user + 60))
        user += 60
        done = cli(repo, "rollout", "advance", "app.yaml", "-e", "dev", "--format", "json")
        assert done.returncode in (0, 1), done.stdout + done.stderr
        report = json.loads(done.stdout)
        slowest = max(slowest, report["seconds"])
        shares.append(report["weight"])
        if report["rollout"]["state"] != "running":
            return report, shares, slowest
        if report["weight"] == 50 and shares.count(50) == 1:  # what a person sees, once
            shown = cli(repo, "rollout", "status", "app.yaml", "-e", "dev")
            print("\n$ llmspec rollout status app.yaml -e dev\n" + shown.stdout)
        time.sleep(1.0)  # the step's hold
    raise AssertionError(f"the rollout did not end: shares {shares}")


def test_a_worse_challenger_is_rolled_back_and_a_better_one_promoted(
    repo: Path, server: str
) -> None:
    from mlflow import MlflowClient

    assert set(ask(server, range(8))) == {"canary-bot/1"}
    none = cli(repo, "rollout", "status", "app.yaml", "-e", "dev")
    assert none.returncode == 1 and "LS870" in none.stderr  # the first promotion rolls nothing
    started = release(repo, 40)  # version 2 answers at length: worse on both guards
    assert "rolls out beside 1" in started.stdout
    refused = cli(repo, "rollback", "app.yaml", "-e", "dev")
    assert (
        refused.returncode == 1 and "LS870" in refused.stderr and "rollout abort" in refused.stderr
    )
    wait_for(server, "2", range(1000, 1060))
    split = ask(server, range(2000, 2200))
    assert 0.03 < split["canary-bot/2"] / 200 < 0.2  # the 10% step, by user
    again = ask(server, range(2000, 2200))
    assert again == split  # sticky: the same users on the same side

    report, shares, slowest = steer(repo, server, 3000)
    print(f"\nworse challenger: shares at each decision {shares}, slowest decision {slowest:.2f} s")
    print(json.dumps(report["decision"], indent=1))
    assert report["rollout"]["state"] == "rolled_back" and report["taken"] == "rollback"
    assert max(shares[:-1], default=10) < 50  # rolled back before the 50% step
    time.sleep(1.0)  # a poll
    assert set(ask(server, range(4000, 4100))) == {"canary-bot/1"}  # all on the champion

    tracking = f"sqlite:///{repo / '.llmspec' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    rejected = client.get_model_version("canary-bot", "2").tags
    assert rejected["llmspec.rejected"] == "true"
    ended = json.loads(rejected["llmspec.rollout_ended"])
    assert ended["state"] == "rolled_back" and {f["metric"] for f in ended["figures"]} == {
        "brevity",
        "latency_ms",
    }
    assert str(client.get_model_version_by_alias("canary-bot", "champion").version) == "1"

    release(repo, 4)  # version 3: briefer and faster than the champion
    wait_for(server, "3", range(5000, 5100))
    report, shares, slowest = steer(repo, server, 6000)
    print(f"better challenger: shares at each decision {shares}, slowest {slowest:.2f} s")
    assert report["rollout"]["state"] == "completed" and report["taken"] == "complete"
    assert shares == sorted(shares) and shares[-1] == 100
    assert str(client.get_model_version_by_alias("canary-bot", "champion").version) == "3"
    time.sleep(1.0)
    assert set(ask(server, range(7000, 7050))) == {"canary-bot/3"}

    # the online judge wrote its scores onto the served traces, as MLflow assessments
    experiment = client.get_experiment_by_name("llmspec/canary-bot/dev").experiment_id
    traces = client.search_traces(locations=[experiment], max_results=5000)
    judged = [a for t in traces for a in t.info.assessments or [] if a.name == "brevity"]
    assert judged and all(a.source.source_type == "CODE" for a in judged)
    release(repo, 6)  # version 4, stopped by hand
    aborted = cli(repo, "rollout", "abort", "app.yaml", "-e", "dev", "--reason", "wrong tone")
    assert aborted.returncode == 1 and "aborted: wrong tone; all traffic is on 3" in aborted.stdout
    assert client.get_model_version("canary-bot", "4").tags["llmspec.rejected_reasons"] == (
        "wrong tone"
    )
    assert str(client.get_model_version_by_alias("canary-bot", "champion").version) == "3"
    watched = cli(repo, "monitor", "app.yaml", "-e", "dev", "--since", "1h")
    print("$ llmspec monitor app.yaml -e dev --since 1h\n" + watched.stdout)
    assert "by model version" in watched.stdout and "judge.brevity" in watched.stdout
    events = [m["llmspec"] for m in Hook.got]
    titles = [e["title"] for e in events]
    assert titles[0].startswith("rollout of version 2 started") and "text" in Hook.got[0]
    assert any(t.startswith("rollout of version 2 rolled back") for t in titles)
    assert any(e["level"] == "danger" and "brevity" in e["fields"] for e in events)
    assert "rollout of version 3 completed: it is the champion now" in titles
    assert titles[-1] == "rollout of version 4 aborted: all traffic is on version 3"
    trail = cli(repo, "audit", "app.yaml", "-e", "dev")
    assert "rollout-rollback" in trail.stdout and "rollout-complete" in trail.stdout
