"""The loop from feedback to a better model, on the tutorial's app: answers served over HTTP,
corrected and rated through the real server, exported as preference pairs with their trace
ids, a DPO stage from the current adapter whose held-out preference margin grows (the figures
are printed), and the result packaged, evaluated and promoted through the gates."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.example.support import KEY, free_port, llmspec, post, start

pytestmark = pytest.mark.slow
pytest.importorskip("mlflow")
pytest.importorskip("trl")

SPEC = "specs/demo-app.yaml"
QUESTIONS = [
    (f"How do I turn on feature {n}?", f"Open Settings, then switch on feature {n}.")
    for n in range(1, 17)
]
STAGE = """\
  preference:
    method: dpo
    dataset: {train: "${vars.data}/pairs.jsonl", validation_split: 0.25}
    beta: 0.1
    training: {max_steps: 24, batch_size: 4, learning_rate: 2.0e-3, seed: 7}
"""


def test_corrections_through_the_server_become_pairs_that_dpo_learns_and_gates_promote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    repo = tmp_path
    (repo / ".git").mkdir()
    assert llmspec("init", "demo-app", cwd=repo).returncode == 0
    applied = llmspec("apply", SPEC, "-e", "dev", cwd=repo)
    assert applied.returncode == 0, applied.stdout + applied.stderr

    port = free_port()
    server = start(
        repo, SPEC, port, "--api-key-env", "DEMO_KEY", env={**os.environ, "DEMO_KEY": KEY}
    )
    try:
        url = f"http://127.0.0.1:{port}"
        served = []
        for question, reference in QUESTIONS:
            (answer,) = post(f"{url}/invocations", {"dataframe_records": [{"question": question}]})[
                "predictions"
            ]
            served.append((answer["trace_id"], answer["answer"], reference))
        for trace_id, _, reference in served:  # people correct what the app answered
            post(f"{url}/v1/feedback",
                 {"trace_id": trace_id, "rating": "down", "correction": reference})  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)

    pairs_file = repo / "specs/data/demo-app/pairs.jsonl"
    exported = llmspec("feedback", "export", SPEC, "-e", "dev", "--format", "preference",
                       "--output", str(pairs_file), cwd=repo)  # fmt: skip
    assert exported.returncode == 0, exported.stdout + exported.stderr
    pairs = [json.loads(line) for line in pairs_file.read_text().splitlines()]
    by_trace = {t: (a, r) for t, a, r in served}
    assert len(pairs) == len(QUESTIONS)
    for pair in pairs:
        answer, reference = by_trace[pair["trace_ids"]["chosen"]]
        assert pair["trace_ids"]["rejected"] == pair["trace_ids"]["chosen"]
        assert (pair["chosen"], pair["rejected"]) == (reference, answer)

    spec = repo / SPEC
    text = spec.read_text()
    tuned = next(line for line in text.splitlines(True) if line.startswith("  training: {epochs"))
    spec.write_text(text.replace(tuned, tuned + STAGE))  # the stage, after the fine-tune's recipe
    planned = llmspec("plan", SPEC, "-e", "dev", cwd=repo).stdout
    assert "+ finetune.demo-app.preference" in planned
    assert re.search(r"\n\s+finetune\.demo-app\s", planned) is None  # the fine-tune is kept

    improved = llmspec("apply", SPEC, "-e", "dev", cwd=repo)
    out = improved.stdout
    assert improved.returncode == 0, out + improved.stderr
    margin = re.search(r"held-out preference margin (-?[\d.]+) → (-?[\d.]+), pairs preferred "
                       r"the right way (\d+)% → (\d+)%", out)  # fmt: skip
    assert margin is not None, out
    before, after = float(margin[1]), float(margin[2])
    print(f"held-out margin {before:.3f} -> {after:.3f}; preferred {margin[3]}% -> {margin[4]}%")
    assert after > before
    assert "demo-app@dev: version 1 → 2" in out  # the DPO model passed its gates and serves

    state = json.loads(llmspec("state", "show", SPEC, "-e", "dev", "--json", cwd=repo).stdout)
    resources = state["resources"]
    stage = resources["finetune.demo-app.preference"]["outputs"]
    assert stage["adapter_dir"] and stage["probe"]["measured_on"] == "held-out"
    package = resources["package.demo-app"]["deps"]
    assert "finetune.demo-app.preference" in package and "finetune.demo-app" not in package
