"""The fine-tune entrypoint: ``accelerate launch --config_file accelerate_config.yaml -m
llmspec.runtime.train job.json --output DIR``.

It reads the rendered job file (the recipe), loads the base model, adds LoRA (or QLoRA's
quantized base, or trains all weights), and trains with transformers' Trainer, which takes its
processes, devices and mixed precision from the Accelerate launcher. Checkpoints go under
``DIR/checkpoints`` and a rerun resumes from the last one; the result goes to ``DIR/model``.
Metrics stream to the MLflow run named by MLFLOW_RUN_ID; progress goes to stdout as
``@@llmspec {json}`` lines for the parent (`llmspec apply`) to show.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transformers import Trainer, TrainerCallback

from llmspec.runtime.contracts import ContractError, JobConfig, QuantizationConfig
from llmspec.runtime.sft_data import Encoded, Example, block_causal_mask, collate, encode, pack

EVENT = "@@llmspec "
OPTIMIZERS = {
    "adamw_torch": "adamw_torch",
    "adamw_8bit": "adamw_bnb_8bit",
    "adafactor": "adafactor",
    "sgd": "sgd",
}


class JobError(Exception):
    """A problem with the job the user can fix; reported as a diagnostic, not a traceback."""

    def __init__(self, message: str, hint: str = "") -> None:
        self.hint = hint
        super().__init__(message)


def emit(event: str, **fields: Any) -> None:
    print(EVENT + json.dumps({"event": event, **fields}), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llmspec.runtime.train")
    parser.add_argument("job", type=Path, help="the rendered finetune/job.json")
    parser.add_argument("--output", type=Path, required=True, help="checkpoints and result")
    parser.add_argument("--base-model", type=Path, help="resolved base model folder")
    parser.add_argument("--examples", type=Path, help="prepared examples (jsonl)")
    parser.add_argument("--index-uri", help="LanceDB location of the app's index")
    parser.add_argument("--index-version", type=int, help="table version to retrieve from")
    parser.add_argument(
        "--start-from", type=Path, help="a preference stage: the fine-tune's adapter or weights"
    )
    args = parser.parse_args(argv)
    from llmspec.runtime.embedding import quiet_libraries

    quiet_libraries()
    try:
        job = JobConfig.from_json(args.job.read_text(encoding="utf-8"))
    except ContractError as exc:  # rendered by another llmspec than the one running it
        emit("error", message=str(exc), hint="render the job again with this llmspec")
        return 2
    try:
        result = train(job, args)
    except JobError as exc:
        emit("error", message=str(exc), hint=exc.hint)
        return 2
    if result is not None:
        emit("done", **result)
    return 0


def train(
    job: JobConfig, args: argparse.Namespace, callbacks: Sequence[Any] = ()
) -> dict[str, Any] | None:
    """Train, resuming from the newest checkpoint under ``args.output``; the result on the main
    process (None on the others). ``callbacks`` join the trainer's (Ray Train's reporting)."""
    from accelerate import PartialState

    if job.objective != "sft":
        from llmspec.runtime.preference import train_preference

        return train_preference(job, args, callbacks)
    state = PartialState()
    train_set, validation_set, base = _inputs(job, args, state)
    training = job.training
    tokenizer, model = load_model(job, base)
    max_length = int(training.max_seq_length)
    encoded, truncated = _encode(train_set, tokenizer, max_length)
    evaluated, _ = _encode(validation_set, tokenizer, max_length)
    if training.packing:
        encoded = pack(encoded, max_length)
    trainer = _trainer(job, args, model, tokenizer, encoded, evaluated)
    for callback in callbacks:
        trainer.add_callback(callback)
    checkpoint = last_checkpoint(args.output / "checkpoints")
    if state.is_main_process:
        emit(
            "start",
            examples=len(train_set),
            processes=state.num_processes,
            validation=len(validation_set),
            sequences=len(encoded),
            truncated=truncated,
            resumed_from=_step_of(checkpoint),
            trainable=sum(p.numel() for p in model.parameters() if p.requires_grad),
            total_steps=trainer.args.max_steps if trainer.args.max_steps > 0 else None,
        )
    outcome = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    progress = next(c for c in trainer.callback_handler.callbacks if isinstance(c, Progress))
    final = args.output / "model"
    trainer.save_model(str(final))  # the adapter for LoRA/QLoRA; all weights for `full`
    (final / "training_args.bin").unlink(missing_ok=True)  # a pickle nobody needs to load
    if not state.is_main_process:
        return None
    tokenizer.save_pretrained(final)
    if job.merge_adapter and job.method != "full":
        merge(base, final, args.output / "merged")
    return result_of(trainer, outcome, progress)


def result_of(trainer: Any, outcome: Any, progress: Progress) -> dict[str, Any]:
    """The training's figures, as the ``done`` event carries them."""
    history = trainer.state.log_history
    losses = [h["loss"] for h in history if "loss" in h]
    evals = [h["eval_loss"] for h in history if "eval_loss" in h]
    tokens = int(trainer.state.num_input_tokens_seen or 0)
    return {
        "steps": trainer.state.global_step,
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "train_loss": outcome.training_loss,
        "best_eval_loss": min(evals) if evals else None,
        "evaluations": len(evals),
        "stopped_early": bool(
            trainer.args.max_steps > 0 and trainer.state.global_step < trainer.args.max_steps
        ),
        "tokens": tokens,
        "tokens_per_s": progress.tokens_per_s,
        "seconds": progress.ended[0] - progress.began[0],
    }


def _inputs(
    job: JobConfig, args: argparse.Namespace, state: Any
) -> tuple[list[Example], list[Example], Path]:
    """The examples and base model the parent prepared, or, run on its own (a cluster Job, or
    a Ray job whose base model comes from the hub), prepared here: the main process first, the
    others then reading its cached results."""
    from llmspec.runtime.sft_prepare import prepare, read_examples, tokenizer_texts, write_examples

    if args.examples is not None and args.base_model is not None:
        train_set, validation_set = read_examples(args.examples)
        return train_set, validation_set, args.base_model
    from llmspec.runtime.models import ModelUnavailable, model_folder
    from llmspec.runtime.sft_data import DataError

    examples = args.examples or args.output / "examples.jsonl"
    with state.main_process_first():
        try:
            if examples.is_file():
                train_set, validation_set = read_examples(examples)
            else:
                train_set, validation_set = prepare(
                    job, Path.cwd(), index_uri=args.index_uri, index_version=args.index_version
                )
                if state.is_main_process:
                    args.output.mkdir(parents=True, exist_ok=True)
                    write_examples(examples, train_set, validation_set)
            base = model_folder(
                job.model,
                Path.cwd(),
                Path(os.environ.get("LLMSPEC_CACHE", ".llmspec/cache")) / "models",
                lambda: tokenizer_texts(train_set + validation_set),
            )
        except (DataError, ModelUnavailable) as exc:
            raise JobError(str(exc), getattr(exc, "hint", "")) from exc
    return train_set, validation_set, base


def load_model(job: JobConfig, base: Path) -> tuple[Any, Any]:
    """Tokenizer and the model to train: with LoRA adapters (on a 4/8-bit base for QLoRA), or
    the whole model for `full`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    remote = bool(job.model.get("trust_remote_code", False))
    tokenizer = AutoTokenizer.from_pretrained(base, trust_remote_code=remote)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    method = job.method
    # float32 master weights; autocast computes in bf16/fp16 under mixed precision
    options: dict[str, Any] = {"dtype": torch.float32, "trust_remote_code": remote}
    if method == "qlora":
        options = {**_quantized(job.quantization), "trust_remote_code": remote}
    model = AutoModelForCausalLM.from_pretrained(base, **options)
    if method == "full":
        return tokenizer, model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    lora = job.lora
    targets = lora.target_modules
    if targets != "all-linear":
        check_target_modules(model, targets)
    if method == "qlora":
        model = prepare_model_for_kbit_training(  # type: ignore[no-untyped-call]
            model, use_gradient_checkpointing=job.training.gradient_checkpointing
        )
    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets if isinstance(targets, str) else list(targets),
        bias=lora.bias,
        task_type="CAUSAL_LM",
    )
    return tokenizer, get_peft_model(model, config)


def check_target_modules(model: Any, targets: Sequence[str]) -> None:
    from llmspec.runtime.models import linear_module_names

    available = linear_module_names(model)
    missing = [t for t in targets if t not in available]
    if missing:
        raise JobError(
            f"LoRA target module(s) {', '.join(f'`{m}`' for m in missing)} are not in this model",
            f"its linear modules are {', '.join(sorted(available))}; or use "
            "`target_modules: all-linear`",
        )


def _quantized(quantization: QuantizationConfig) -> dict[str, Any]:
    import importlib.util

    import torch

    if importlib.util.find_spec("bitsandbytes") is None or not torch.cuda.is_available():
        raise JobError(
            "QLoRA needs a CUDA GPU and the bitsandbytes package",
            "use `method: lora` where there is no GPU",
        )
    from transformers import BitsAndBytesConfig

    dtype = getattr(torch, quantization.compute_dtype)
    if quantization.bits == 8:
        config = BitsAndBytesConfig(load_in_8bit=True)  # type: ignore[no-untyped-call]
    else:
        config = BitsAndBytesConfig(  # type: ignore[no-untyped-call]
            load_in_4bit=True,
            bnb_4bit_quant_type=quantization.quant_type,
            bnb_4bit_use_double_quant=quantization.double_quant,
            bnb_4bit_compute_dtype=dtype,
        )
    return {"quantization_config": config, "dtype": dtype}


def _encode(
    examples: Sequence[Example], tokenizer: Any, max_length: int
) -> tuple[list[Encoded], int]:
    encoded, truncated = [], 0
    for example in examples:
        item, cut = encode(example, tokenizer, max_length)
        encoded.append(item)
        truncated += cut
    return encoded, truncated


def _trainer(
    job: JobConfig,
    args: argparse.Namespace,
    model: Any,
    tokenizer: Any,
    train_set: list[Encoded],
    validation_set: list[Encoded],
) -> Any:
    from transformers import TrainingArguments

    arguments = TrainingArguments(**training_arguments(job, args.output, bool(validation_set)))
    callbacks = trainer_callbacks(job, bool(validation_set))
    pad_id = tokenizer.pad_token_id
    return SftTrainer(
        model=model,
        args=arguments,
        train_dataset=train_set,
        eval_dataset=validation_set or None,
        data_collator=lambda batch: collate(batch, pad_id),
        callbacks=callbacks,
    )


def training_arguments(job: JobConfig, output: Path, has_eval: bool) -> dict[str, Any]:
    """transformers' TrainingArguments for the job's recipe (TRL's configs extend them)."""
    training = job.training
    compute = job.compute
    early = training.early_stopping if has_eval else None
    eval_steps = training.eval_steps
    save_steps = training.checkpoint_steps or eval_steps
    if early and eval_steps:
        save_steps = eval_steps  # the best model is chosen among saved checkpoints
    strategy = "steps" if eval_steps else "epoch"
    return {
        "output_dir": str(output / "checkpoints"),
        "per_device_train_batch_size": training.batch_size,
        "per_device_eval_batch_size": training.batch_size,
        "gradient_accumulation_steps": training.gradient_accumulation_steps,
        "learning_rate": training.learning_rate,
        "num_train_epochs": training.epochs,
        "max_steps": training.max_steps or -1,
        "lr_scheduler_type": training.scheduler,
        "warmup_steps": training.warmup_ratio,  # a float below 1 is a ratio of the steps
        "weight_decay": training.weight_decay,
        "optim": OPTIMIZERS[training.optimizer],
        "gradient_checkpointing": training.gradient_checkpointing,
        "gradient_checkpointing_kwargs": {"use_reentrant": False},
        "eval_strategy": strategy if has_eval else "no",
        "eval_steps": eval_steps,
        "save_strategy": "steps" if save_steps else "epoch",
        "save_steps": save_steps or 500,
        "save_total_limit": 2,
        "load_best_model_at_end": bool(early),
        "metric_for_best_model": "eval_loss" if early else None,
        "greater_is_better": False if early else None,
        "logging_steps": 1,
        "report_to": "none",
        "disable_tqdm": True,
        "seed": training.seed,
        "data_seed": training.seed,
        "use_cpu": compute.device == "cpu",
        "bf16": compute.mixed_precision == "bf16",
        "fp16": compute.mixed_precision == "fp16",
        "include_num_input_tokens_seen": "non_padding",
        "remove_unused_columns": False,
        "ddp_find_unused_parameters": False,
        "dataloader_num_workers": 0,
        "save_only_model": False,
    }


def trainer_callbacks(job: JobConfig, has_eval: bool) -> list[Any]:
    """Progress to MLflow and the parent, and early stopping when the recipe asks for it."""
    from transformers import EarlyStoppingCallback

    early = job.training.early_stopping if has_eval else None
    callbacks: list[Any] = [
        Progress(os.environ.get("MLFLOW_RUN_ID"), keep_last_checkpoint=bool(early))
    ]
    if early:
        callbacks.append(
            EarlyStoppingCallback(early.patience, early_stopping_threshold=early.min_delta)
        )
    return callbacks


class SftTrainer(Trainer):
    """Trainer, with packed batches' `segment_ids` turned into a block-causal attention mask
    (after Trainer counted the non-padding tokens from the plain mask)."""

    def compute_loss(self, model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        segments = inputs.pop("segment_ids", None)
        if segments is not None:
            inputs["attention_mask"] = block_causal_mask(segments)
        return super().compute_loss(model, inputs, *args, **kwargs)


class Progress(TrainerCallback):
    """Per-step metrics (loss, learning rate, tokens/s, validation loss) to MLflow and to the
    parent's progress display, from the main process only."""

    def __init__(self, run_id: str | None, keep_last_checkpoint: bool) -> None:
        self.run_id = run_id
        self.keep_last_checkpoint = keep_last_checkpoint
        self.client: Any = None
        self.last = (time.perf_counter(), 0)
        self.began = self.last
        self.ended = self.last

    @property
    def tokens_per_s(self) -> float | None:
        """Input tokens per second from the first to the last step: no start-up, no saving."""
        (start, first), (end, last) = self.began, self.ended
        return (last - first) / (end - start) if end > start and last > first else None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.last = (time.perf_counter(), int(state.num_input_tokens_seen or 0))
        self.began = self.ended = self.last
        if self.run_id and state.is_world_process_zero:
            from mlflow import MlflowClient

            self.client = MlflowClient()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.ended = (time.perf_counter(), int(state.num_input_tokens_seen or 0))
        if state.global_step >= state.max_steps and not self.keep_last_checkpoint:
            # the model is saved right after; optimizer state of a finished run is dead weight
            control.should_save = False

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        metrics = {k: float(v) for k, v in logs.items() if isinstance(v, int | float)}
        metrics = {k: v for k, v in metrics.items() if math.isfinite(v)}
        if "loss" in metrics:
            now, tokens = time.perf_counter(), int(state.num_input_tokens_seen or 0)
            if now > self.last[0] and tokens > self.last[1]:
                metrics["tokens_per_s"] = (tokens - self.last[1]) / (now - self.last[0])
            self.last = (now, tokens)
        renamed = {("lr" if k == "learning_rate" else k): v for k, v in metrics.items()}
        renamed.pop("num_input_tokens_seen", None)
        if self.client is not None and renamed:
            from mlflow.entities import Metric

            stamp = int(time.time() * 1000)
            self.client.log_batch(
                self.run_id,
                metrics=[Metric(k, v, stamp, state.global_step) for k, v in renamed.items()],
            )
        emit("log", step=state.global_step, total=state.max_steps, **renamed)


def last_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint under ``folder``, if any."""
    done = [p for p in folder.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    return max(done, key=lambda p: _step_of(p) or 0, default=None)


def _step_of(checkpoint: Path | None) -> int | None:
    if checkpoint is None:
        return None
    try:
        return int(checkpoint.name.rsplit("-", 1)[-1])
    except ValueError:
        return None


def merge(base: Path, adapter: Path, target: Path) -> None:
    """Base weights with the adapter folded in: a plain model to serve without peft."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    merged.save_pretrained(target)
    AutoTokenizer.from_pretrained(adapter).save_pretrained(target)


if __name__ == "__main__":
    sys.exit(main())
