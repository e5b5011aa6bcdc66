"""Benchmark the fine-tune stage (prints ratios; asserts nothing).

    python bench/bench_finetune.py [--steps 50] [--repeats 5] [--threads 1]

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
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SPEC = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata: {{name: bench}}
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
    max_seq_length: {max_length}
    packing: {packing}
    checkpoint_steps: 100000
  compute: {{device: cpu, mixed_precision: "no", num_processes: 1}}
"""
TOPICS = ["password", "invoice", "report", "webhook", "backup", "team", "export", "API token"]
ACTIONS = ["reset", "download", "share", "delete", "rename", "restore", "schedule", "rotate"]
PLACES = ["Settings", "Billing", "the dashboard", "the project page", "Admin", "your profile"]
ASIDES = [
    "I manage a team workspace.",
    "The old way stopped working.",
    "This is on the mobile app.",
    "Our admin is away this week.",
]
DETAILS = [
    "Pick it from the list and confirm.",
    "Only owners and admins can do this.",
    "Wait for the e-mail that says it is done.",
    "Ask an admin if the button is greyed out.",
    "It can take a few minutes to show up everywhere.",
    "The audit log keeps a record of the change.",
]


def records(count: int, extra: int, seed: int = 0) -> list[dict[str, Any]]:
    """Help-desk chat QA records: a question and its answer, each padded out with up to
    ``extra`` more sentences, so that lengths vary as they do in real data."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        topic, action, place = rng.choice(TOPICS), rng.choice(ACTIONS), rng.choice(PLACES)
        question = [f"How do I {action} a {topic}?", *rng.sample(ASIDES, rng.randint(0, extra))]
        answer = [f"Open {place} and choose {action}.", *rng.sample(DETAILS, rng.randint(0, extra))]
        messages = [
            {"role": "user", "content": " ".join(question)},
            {"role": "assistant", "content": " ".join(answer)},
        ]
        rows.append({"messages": messages})
    return rows


class App:
    """A spec on disk, rendered by llmspec, with its examples and base model prepared the way
    `apply` prepares them before it launches training."""

    def __init__(
        self,
        folder: Path,
        rows: list[dict[str, Any]],
        steps: int,
        packing: bool,
        max_length: int = 512,
    ):
        from llmspec.engine.workspace import open_workspace
        from llmspec.frontend import resolve
        from llmspec.runtime.builtin import build_tiny_gpt2
        from llmspec.runtime.sft_prepare import prepare, tokenizer_texts, write_examples

        self.folder = folder
        folder.mkdir(parents=True)
        (folder / ".git").mkdir()  # the repository root: state and caches stay in here
        with open(folder / "train.jsonl", "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
        spec = SPEC.format(steps=steps, packing=str(packing).lower(), max_length=max_length)
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

    def launch(self, threads: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """(start event, done event) of one run, in a fresh output folder (an existing one
        would be resumed from its last checkpoint)."""
        from llmspec.kinds.finetune.launch import command, launch

        self.runs += 1
        output = self.folder / f"run{self.runs}"
        output.mkdir()
        os.environ.pop("MLFLOW_RUN_ID", None)  # no MLflow run: Progress then logs nothing
        # the launcher passes OMP_NUM_THREADS on when it is set (else it picks its own count)
        env = {"OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
        events: dict[str, dict[str, Any]] = {}
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
    batches, forward, backward, AdamW step; only the steps after the warm-up are timed."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmspec.runtime.sft_data import collate, encode

    training, lora = app.job["training"], app.job["lora"]
    assert training["gradient_accumulation_steps"] == 1  # the loop does one batch per step
    tokenizer = AutoTokenizer.from_pretrained(app.base)
    torch.manual_seed(training["seed"])
    model = AutoModelForCausalLM.from_pretrained(app.base, dtype=torch.float32)
    config = LoraConfig(
        r=lora["r"],
        lora_alpha=lora["alpha"],
        lora_dropout=lora["dropout"],
        target_modules=lora["target_modules"],
        bias=lora["bias"],
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, config)
    model.train()
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=training["learning_rate"],
        weight_decay=training["weight_decay"],  # torch's default is not the Trainer's
    )
    encoded = [encode(e, tokenizer, training["max_seq_length"])[0] for e in app.train]
    size, rng = training["batch_size"], random.Random(training["seed"])

    def batches() -> Any:
        while True:  # epoch after epoch, each shuffled, the last batch kept (as the Trainer)
            order = rng.sample(encoded, len(encoded))
            for i in range(0, len(order), size):
                yield collate(order[i : i + size], tokenizer.pad_token_id)

    stream, tokens, started = batches(), 0, 0.0
    for step in range(warmup + steps):
        if step == warmup:
            started, tokens = time.perf_counter(), 0
        batch = next(stream)
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += int(batch["attention_mask"].sum())
    return tokens / (time.perf_counter() - started)


def throughput(root: Path, steps: int, repeats: int, threads: int) -> None:
    app = App(root / "throughput", records(96, extra=4), steps, packing=False)
    job_rates, loop_rates = [], []
    for _ in range(repeats):  # interleaved, so that a busy spell on the machine hits both
        _, done = app.launch(threads)
        assert done["steps"] == steps, done
        job_rates.append(done["tokens_per_s"])
        loop_rates.append(hand_loop(app, steps))
    job, loop = max(job_rates), max(loop_rates)
    print(
        f"finetune throughput ({len(app.train)} examples, {steps} steps of "
        f"{app.job['training']['batch_size']}, {threads} thread(s), best of {repeats}): "
        f"rendered job {job:,.0f} tok/s, hand-written loop {loop:,.0f} tok/s, "
        f"ratio {job / loop:.2f} (target >= 0.9)"
    )
    print(f"  every run: job {_rates(job_rates)}; loop {_rates(loop_rates)} tok/s")


def packing_gain(root: Path, steps: int, repeats: int, threads: int, max_length: int) -> None:
    rows = records(256, extra=3, seed=1)  # short, and of varied length, as chat data is
    apps = {
        p: App(root / f"packing-{p}-{max_length}".lower(), rows, steps, p, max_length)
        for p in (False, True)
    }
    rates: dict[bool, list[float]] = {False: [], True: []}
    sequences = {}
    for _ in range(repeats):
        for packing, app in apps.items():
            start, done = app.launch(threads)
            rates[packing].append(done["tokens_per_s"])
            sequences[packing] = start["sequences"]
    packed, unpacked = max(rates[True]), max(rates[False])
    print(
        f"packing gain at max_seq_length {max_length}: {packed / unpacked:.2f}× the tokens/s "
        f"({packed:,.0f} vs {unpacked:,.0f} tok/s, {steps} steps, best of {repeats}; "
        f"{sequences[False]} sequences packed into {sequences[True]})"
    )


def _rates(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


def main() -> None:
    import warnings

    import torch

    from llmspec.runtime.embedding import quiet_libraries

    quiet_libraries()  # no weight-loading bars from the hand-written loop's side either
    warnings.filterwarnings("ignore", category=UserWarning, module=r"peft(\..*)?$")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    # one thread a side by default: on a small machine that others share, OpenMP threads that
    # wait on a busy core make step times erratic (tens of times slower), hiding the overhead
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # the hand-written loop's; the job's goes by OMP
    with tempfile.TemporaryDirectory() as tmp:
        throughput(Path(tmp), args.steps, args.repeats, args.threads)
        # packed rows attend within each example (a block-causal mask): on a CPU the cost of
        # that mask grows with the square of the row, so the gain depends on the row length
        for max_length in (128, 512):
            packing_gain(
                Path(tmp),
                max(10, args.steps // 2),
                max(1, args.repeats // 2),
                args.threads,
                max_length,
            )


if __name__ == "__main__":
    main()
