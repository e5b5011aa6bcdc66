"""The preference stage in the training entrypoint: DPO, ORPO or KTO with TRL's trainers.

It starts from the fine-tune's result (``--start-from``: its LoRA adapter, trained on, or its
full weights) and trains the same weights on the prepared preference examples, under the same
`accelerate launch`, checkpoints, resume and MLflow progress as the supervised fine-tune
(TRL's trainers are transformers' Trainer). DPO and KTO compare against a frozen reference:
the starting point itself (TRL keeps a frozen copy of the adapter, or of the weights).
Per step, MLflow gets TRL's reward margins and accuracies beside the loss.

`margins` measures what the stage is for, outside any trainer: for held-out pairs, the summed
log-probability of the chosen answer minus the rejected one's, given the prompt as served.
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmspec.runtime.contracts import JobConfig
from llmspec.runtime.preference_data import PreferenceExample, trl_rows

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # ORPO lives in trl.experimental


def train_preference(
    job: JobConfig, args: argparse.Namespace, callbacks: Sequence[Any] = ()
) -> dict[str, Any] | None:
    """Train ``job.objective`` from ``args.start_from``; the result on the main process."""
    from accelerate import PartialState
    from datasets import Dataset  # type: ignore[import-untyped]

    from llmspec.runtime.train import (
        Progress,
        emit,
        last_checkpoint,
        merge,
        result_of,
        trainer_callbacks,
        training_arguments,
    )

    state = PartialState()
    train_set, validation_set = read_examples(args.examples)
    tokenizer, model = load_start(job, args.base_model, args.start_from)
    conversational = bool(getattr(tokenizer, "chat_template", None))
    rows = trl_rows(train_set, job.objective, conversational, tokenizer)
    held = trl_rows(validation_set, job.objective, conversational, tokenizer)
    config_type, trainer_type = _trl(job.objective)
    arguments = config_type(
        **training_arguments(job, args.output, bool(held)),
        **_method_settings(job),
        max_length=int(job.training.max_seq_length),
    )
    trainer = trainer_type(
        model=model,
        args=arguments,
        train_dataset=Dataset.from_list(rows),
        eval_dataset=Dataset.from_list(held) if held else None,
        processing_class=tokenizer,
        callbacks=trainer_callbacks(job, bool(held)),
    )
    for callback in callbacks:
        trainer.add_callback(callback)
    checkpoint = last_checkpoint(args.output / "checkpoints")
    if state.is_main_process:
        emit(
            "start",
            examples=len(train_set),
            processes=state.num_processes,
            validation=len(validation_set),
            sequences=len(rows),
            truncated=0,
            resumed_from=_step(checkpoint),
            trainable=sum(p.numel() for p in model.parameters() if p.requires_grad),
            total_steps=trainer.args.max_steps if trainer.args.max_steps > 0 else None,
        )
    outcome = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    progress = next(c for c in trainer.callback_handler.callbacks if isinstance(c, Progress))
    final = args.output / "model"
    trainer.save_model(str(final))
    # the frozen reference TRL adds beside the adapter is the starting point: not part of it
    shutil.rmtree(final / "ref", ignore_errors=True)
    (final / "training_args.bin").unlink(missing_ok=True)
    if not state.is_main_process:
        return None
    tokenizer.save_pretrained(final)
    if job.merge_adapter and job.method != "full":
        merge(args.base_model, final, args.output / "merged")
    return result_of(trainer, outcome, progress)


def _step(checkpoint: Path | None) -> int | None:
    return int(checkpoint.name.rsplit("-", 1)[-1]) if checkpoint is not None else None


def _trl(objective: str) -> tuple[Any, Any]:
    """TRL's config and trainer classes for a method."""
    if objective == "dpo":
        from trl.trainer.dpo_config import DPOConfig
        from trl.trainer.dpo_trainer import DPOTrainer

        return DPOConfig, DPOTrainer
    if objective == "kto":
        from trl.trainer.kto_config import KTOConfig
        from trl.trainer.kto_trainer import KTOTrainer

        return KTOConfig, KTOTrainer
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    return ORPOConfig, ORPOTrainer


def _method_settings(job: JobConfig) -> dict[str, Any]:
    preference = job.preference
    assert preference is not None  # a preference job always carries its loss settings
    if job.objective == "dpo":
        return {"beta": preference.beta, "loss_type": [preference.loss_type]}
    if job.objective == "kto":
        return {
            "beta": preference.beta,
            "desirable_weight": preference.desirable_weight,
            "undesirable_weight": preference.undesirable_weight,
        }
    return {"beta": preference.beta}


def load_start(job: JobConfig, base: Path, start: Path | None) -> tuple[Any, Any]:
    """The tokenizer and the model to train: the base with the fine-tune's adapter, trainable
    (LoRA), or the fine-tune's full weights (`full`, whose folder is then ``base``)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    remote = bool(job.model.get("trust_remote_code", False))
    tokenizer = AutoTokenizer.from_pretrained(start or base, trust_remote_code=remote)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    options: dict[str, Any] = {"dtype": torch.float32, "trust_remote_code": remote}
    if job.method == "full" or start is None:
        return tokenizer, AutoModelForCausalLM.from_pretrained(start or base, **options)
    from peft import PeftModel

    model = AutoModelForCausalLM.from_pretrained(base, **options)
    return tokenizer, PeftModel.from_pretrained(model, start, is_trainable=True)


def read_examples(path: Path) -> tuple[list[PreferenceExample], list[PreferenceExample]]:
    import json

    parts: dict[str, list[PreferenceExample]] = {"train": [], "validation": []}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            parts[row["split"]].append(PreferenceExample.from_dict(row))
    return parts["train"], parts["validation"]


def write_examples(
    path: Path, train: Sequence[PreferenceExample], validation: Sequence[PreferenceExample]
) -> None:
    import json

    with open(path, "w", encoding="utf-8") as handle:
        for part, examples in (("train", train), ("validation", validation)):
            for e in examples:
                handle.write(json.dumps({"split": part, **e.to_dict()}, ensure_ascii=False) + "\n")


def margins(
    base: Path,
    adapter: Path | None,
    examples: Sequence[PreferenceExample],
    device: str = "cpu",
) -> list[float]:
    """log p(chosen | prompt) − log p(rejected | prompt) for each pair, each answer's tokens
    summed, with the prompt and answer tokenized apart as they are served and trained."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmspec.runtime.prompting import answer_text

    tokenizer = AutoTokenizer.from_pretrained(adapter or base)
    model: Any = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    target = (
        "cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu"
    )
    model.to(target).eval()

    def logp(prompt: list[int], answer: list[int]) -> float:
        ids = torch.tensor([prompt + answer], device=target)
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, :-1].float()
        picked = torch.log_softmax(logits, dim=-1)[len(prompt) - 1 :].gather(
            1, ids[0, len(prompt) :, None]
        )
        return float(picked.sum())

    def tokens(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    out = []
    for e in examples:
        if not e.paired:
            continue
        prompt = tokens(e.prompt_text(tokenizer))
        chosen = tokens(answer_text(tokenizer, e.messages, e.chosen))
        rejected = tokens(answer_text(tokenizer, e.messages, e.rejected))
        out.append(logp(prompt, chosen) - logp(prompt, rejected))
    return out
