"""Benchmark the fine-tune stage (prints ratios; asserts nothing).

    python bench/bench_finetune.py [--steps 50] [--repeats 3]

Both figures run the job llmspec renders from a spec (job.json + Accelerate config) through
`accelerate launch` exactly as `apply` does, on the built-in tiny-gpt2, on the CPU:

1. training throughput (non-padding tokens/s, from the entrypoint's `done` event, which leaves
   out process start-up and model loading) divided by that of a minimal hand-written PEFT loop
   on the same base model, examples, batch size and learning rate (target >= 0.9);
2. packing gain: tokens/s of a job with `training.packing: true` on short records divided by
   the same job without packing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# the launcher sets OMP_NUM_THREADS for its child unless it is set already: pin it, and the
# parent's torch, to the same count so that both sides get the same cores
THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
SPEC = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata: {{name: {name}}}
model: {{source: builtin, id: tiny-gpt2}}
prompts: {{templates: {{answer: {{template: "{{{{ question }}}}"}}}}}}
finetune:
  method: lora
  dataset: {{train: train.jsonl, format: chat, use_app_prompt: false, validation_split: 0.0}}
  lora: {{r: 16, alpha: 32, dropout: 0.05, target_modules: all-linear}}
  training:
    max_steps: {steps}
    batch_size: 8
    gradient_accumulation_steps: 1
    learning_rate: 1.0e-3
    max_seq_length: 512
    packing: {packing}
    checkpoint_steps: 100000
  compute: {{device: cpu, mixed_precision: "no", num_processes: 1}}
"""
TOPICS = ["password", "invoice", "report", "webhook", "backup", "team", "export", "API token"]
ACTIONS = ["reset", "download", "share", "delete", "rename", "restore", "schedule", "rotate"]
PLACES = ["Settings", "Billing", "the dashboard", "the project page", "Admin", "your profile"]


def records(count: int, short: bool, seed: int = 0) -> list[dict[str, Any]]:
    """Help-desk chat QA: one user question and the assistant's answer, in two lengths."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        topic, action, place = rng.choice(TOPICS), rng.choice(ACTIONS), rng.choice(PLACES)
        question = f"How do I {action} a {topic}?"
        answer = f"Open {place} and choose {action.capitalize()}."
        if not short:
            question = f"Hi, I manage a team workspace. {question} The old way stopped working."
            answer += (
                f" Pick the {topic} from the list, confirm, and wait for the e-mail that says it"
                f" is done. Only owners and admins can {action} a {topic}; ask one of them if the"
                " button is greyed out."
            )
        rows.append({"messages": [{"role": "user", "content": question}, answer_message(answer)]})
    return rows


def answer_message(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


class App:
    """A spec on disk, rendered by llmspec, with its examples and base model prepared the way
    `apply` prepares them before it launches training."""

    def __init__(self, folder: Path, rows: list[dict[str, Any]], steps: int, packing: bool):
        from llmspec.pipeline import resolve
        from llmspec.runtime.builtin import build_tiny_gpt2
        from llmspec.runtime.sft_prepare import prepare, tokenizer_texts, write_examples
        from llmspec.workspace import open_workspace

        self.folder = folder
        folder.mkdir(parents=True)
        (folder / ".git").mkdir()  # the repository root: state and caches stay in here
        with open(folder / "train.jsonl", "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
        spec = SPEC.format(name="bench", steps=steps, packing=str(packing).lower())
        (folder / "app.yaml").write_text(spec, encoding="utf-8")
        resolved = resolve(folder / "app.yaml")
        workspace = open_workspace(resolved)
        resource = workspace.graph().resources["finetune.bench"]
        files = workspace.steps["finetune"].render(resource, resolved.spec)
        for name in ("accelerate_config.yaml", "job.json"):
            (folder / name).write_text(files[f"finetune/{name}"], encoding="utf-8")
        self.job = json.loads(files["finetune/job.json"])
        self.train, validation = prepare(self.job, folder)
        write_examples(folder / "examples.jsonl", self.train, validation)
        self.base = build_tiny_gpt2(
            tokenizer_texts(self.train + validation),
            int(self.job["model"]["seed"]),
            folder / ".llmspec" / "cache" / "models",
        )
        self.runs = 0

    def launch(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(start event, done event) of one run, in a fresh output folder (an existing one
        would be resumed from its last checkpoint)."""
        from llmspec.finetune.launch import command, launch

        self.runs += 1
        output = self.folder / f"run{self.runs}"
        output.mkdir()
        events: dict[str, dict[str, Any]] = {}
        env = {"OMP_NUM_THREADS": str(THREADS), "TOKENIZERS_PARALLELISM": "false"}
        os.environ.pop("MLFLOW_RUN_ID", None)  # no MLflow run: Progress then logs nothing
        launched = launch(
            command(
                self.folder / "accelerate_config.yaml",
                self.folder / "job.json",
                output,
                ["--base-model", str(self.base), "--examples", str(self.folder / "examples.jsonl")],
            ),
            self.folder,
            env,
            output / "train.log",
            lambda event: events.setdefault(event["event"], event),
        )
        if launched.returncode != 0 or launched.result is None:
            raise RuntimeError(f"training failed: {launched.error or launched.tail}")
        return events["start"], launched.result


def hand_loop(app: App, steps: int, warmup: int = 2) -> float:
    """Non-padding tokens/s of the plainest PEFT loop over the same examples: shuffled
    batches, forward, backward, AdamW step; only the timed steps count."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmspec.runtime.sft_data import collate, encode

    job, training, lora = app.job, app.job["training"], app.job["lora"]
    tokenizer = AutoTokenizer.from_pretrained(app.base)
    torch.manual_seed(training["seed"])
    model = AutoModelForCausalLM.from_pretrained(app.base, dtype=torch.float32)
    model = get_peft_model(
        model,
        LoraConfig(
            r=lora["r"],
            lora_alpha=lora["alpha"],
            lora_dropout=lora["dropout"],
            target_modules=lora["target_modules"],
            bias=lora["bias"],
            task_type="CAUSAL_LM",
        ),
    )
    model.train()
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=training["learning_rate"],
        weight_decay=training["weight_decay"],
    )
    encoded = [encode(e, tokenizer, training["max_seq_length"])[0] for e in app.train]
    size, rng = training["batch_size"], random.Random(training["seed"])

    def batches() -> Any:
        while True:  # epochs, each a fresh shuffle, dropping nothing (like the Trainer)
            order = rng.sample(encoded, len(encoded))
            for i in range(0, len(order), size):
                yield collate(order[i : i + size], tokenizer.pad_token_id)

    stream, tokens = batches(), 0
    for step in range(warmup + steps):
        if step == warmup:
            started, tokens = time.perf_counter(), 0
        batch = next(stream)
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += int(batch["attention_mask"].sum())
    assert job["training"]["gradient_accumulation_steps"] == 1
    return tokens / (time.perf_counter() - started)


def throughput(root: Path, steps: int, repeats: int) -> None:
    import torch

    torch.set_num_threads(THREADS)
    app = App(root / "throughput", records(96, short=False), steps, packing=False)
    job_rates, loop_rates = [], []
    for _ in range(repeats):  # interleaved, so that drift in the machine's speed hits both
        _, done = app.launch()
        assert done["steps"] == steps, done
        job_rates.append(done["tokens_per_s"])
        loop_rates.append(hand_loop(app, steps))
    job, loop = statistics.median(job_rates), statistics.median(loop_rates)
    print(
        f"finetune throughput ({len(app.train)} examples, {steps} steps of "
        f"{app.job['training']['batch_size']}, {THREADS} CPU threads, median of {repeats}): "
        f"rendered job {job:,.0f} tok/s, hand-written loop {loop:,.0f} tok/s, "
        f"ratio {job / loop:.2f} (target >= 0.9)"
    )


def packing_gain(root: Path, steps: int) -> None:
    rates, counts = {}, {}
    for packing in (False, True):
        app = App(root / f"packing-{packing}", records(256, short=True, seed=1), steps, packing)
        start, done = app.launch()
        rates[packing] = done["tokens_per_s"]
        counts[packing] = start["sequences"]
    print(
        f"packing gain: {rates[True] / rates[False]:.1f}× more tokens/s "
        f"({rates[True]:,.0f} vs {rates[False]:,.0f} tok/s over {steps} steps; "
        f"{counts[False]} sequences packed into {counts[True]})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        throughput(Path(tmp), args.steps, args.repeats)
        packing_gain(Path(tmp), max(10, args.steps // 2))


if __name__ == "__main__":
    main()
