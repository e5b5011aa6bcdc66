"""docs/tutorial.md, command by command, on a fresh `llmspec init` app: validate, plan, apply,
serve, ask over HTTP, give feedback, monitor (with the HTML report), export the feedback and
train on it. What a new user runs, so the scaffold is known to go all the way."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.example.support import KEY, free_port, llmspec, post, start

pytestmark = pytest.mark.slow
pytest.importorskip("mlflow")

SPEC = "specs/demo-app.yaml"


def tutorial_commands() -> list[str]:
    """The `llmspec …` lines of the tutorial's shell blocks."""
    text = (ROOT / "docs" / "tutorial.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    return [ln.strip() for b in blocks for ln in b.splitlines() if ln.startswith("llmspec ")]


def test_the_tutorial_goes_from_init_to_a_served_monitored_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a new user's shell: no tracking URI left behind by the tests before (mlflow's
    # set_tracking_uri exports it), so the commands use the repository's own MLflow
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    repo = tmp_path
    (repo / ".git").mkdir()
    commands = tutorial_commands()
    for expected in ("llmspec init demo-app", "llmspec validate specs/",
                     f"llmspec plan {SPEC} -e dev", f"llmspec apply {SPEC} -e dev"):  # fmt: skip
        assert expected in commands  # the tutorial says what this test runs

    assert llmspec("init", "demo-app", cwd=repo).returncode == 0
    checked = llmspec("validate", "specs/", cwd=repo)
    assert checked.returncode == 0 and "0 error(s)" in checked.stdout
    planned = llmspec("plan", SPEC, "-e", "dev", cwd=repo)
    assert planned.returncode == 0 and "finetune.demo-app" in planned.stdout
    applied = llmspec("apply", SPEC, "-e", "dev", cwd=repo)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Where to look:" in applied.stdout and "models:/demo-app@dev" in applied.stdout

    port = free_port()
    env = {**os.environ, "DEMO_KEY": KEY}
    server = start(repo, SPEC, port, "--api-key-env", "DEMO_KEY", env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        question = "How do I get started?"
        (answer,) = post(f"{url}/invocations", {"dataframe_records": [{"question": question}]})[
            "predictions"
        ]
        assert answer["sources"] and answer["trace_id"]
        chat = post(f"{url}/v1/chat/completions",
                    {"messages": [{"role": "user", "content": question}]})  # fmt: skip
        assert chat["choices"][0]["message"]["content"] == answer["answer"]
        post(f"{url}/v1/feedback", {"trace_id": chat["trace_id"], "rating": "up"})
    finally:
        server.terminate()
        server.wait(timeout=30)
    down = llmspec("feedback", answer["trace_id"], "--rating", "down", "--correction",
                   "Read the getting-started page.", cwd=repo)  # fmt: skip
    assert down.returncode == 0, down.stderr

    watched = llmspec("monitor", SPEC, "-e", "dev", "--since", "1h", "--html", "monitor.html",
                      "--format", "json", cwd=repo)  # fmt: skip
    report = json.loads(watched.stdout)
    assert report["figures"]["request_count"] >= 2
    assert report["figures"]["feedback_positive_rate"] == 0.5  # one up, one down
    assert watched.returncode == 1  # below the scaffold's 0.7: the retrain alert fires
    assert report["marked_for_retraining"] == ["finetune.demo-app"]
    assert (repo / "monitor.html").read_text().count("<svg") >= 4
    replanned = llmspec("plan", SPEC, "-e", "dev", cwd=repo).stdout
    assert "-/+ finetune.demo-app" in replanned and "marked for rebuilding" in replanned

    out = "specs/data/demo-app/feedback.jsonl"
    exported = llmspec("feedback", "export", SPEC, "-e", "dev", "--output", out, cwd=repo)
    assert exported.returncode == 0, exported.stderr
    assert "Read the getting-started page." in (repo / out).read_text()
    train = repo / "specs/data/demo-app/train.jsonl"  # the tutorial appends it with cat >>
    train.write_text(train.read_text() + (repo / out).read_text())
    retrained = llmspec("apply", SPEC, "-e", "dev", cwd=repo)
    assert retrained.returncode == 0, retrained.stdout + retrained.stderr
    assert "finetune.demo-app" in retrained.stdout
    again = llmspec("plan", SPEC, "-e", "dev", "--detailed-exitcode", cwd=repo)
    assert again.returncode == 0, again.stdout  # retrained, mark cleared, nothing left to do
