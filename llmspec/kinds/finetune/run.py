"""`apply` of a `finetune.<app>` resource.

1. Render every training record through the app's prompt (retrieving context from the index
   the apply just built) and resolve the base model to a local folder; bad records, a model
   that cannot be had offline, LoRA modules the model lacks or QLoRA without CUDA stop here,
   before any training.
2. Open the MLflow run (or reopen the one an interrupted attempt left) and answer the training
   questions with the untrained model, for comparison.
3. `accelerate launch` the training entrypoint on the rendered config and job file; it resumes
   from the last checkpoint in the work folder, which is keyed by the inputs digest. With
   `compute.backend: ray` the same entrypoint runs as a Ray job instead (`ray_job.py`).
4. Answer the training questions again with the adapter, log the model folder to the run, and
   return the run id and the model's digest as the resource's outputs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmspec.core.diagnostics import Diagnostic, Span, error
from llmspec.core.layout import Layout
from llmspec.engine.step import Resource, RunContext, StepFailed
from llmspec.integrations.mlflow import FinetuneRun, Tag, experiment_name, flatten, tracking_uri
from llmspec.kinds.dataset.outputs import DatasetOutputs
from llmspec.kinds.finetune import preference_run as stage
from llmspec.kinds.finetune.launch import command, launch
from llmspec.kinds.finetune.outputs import FinetuneOutputs
from llmspec.kinds.index.outputs import IndexOutputs
from llmspec.plans.address import Address
from llmspec.runtime.contracts import JobConfig

PROBE_EXAMPLES = 16  # training questions answered before and after, to show what was learned


def run_finetune(resource: Resource, ctx: RunContext, files: Mapping[str, str]) -> dict[str, Any]:
    from llmspec.kinds.finetune.step import files_prefix

    prefix = files_prefix(resource)
    job = JobConfig.from_json(files[f"{prefix}/job.json"])
    preference = job.objective != "sft"
    work = ctx.artifact_dir
    work.mkdir(parents=True, exist_ok=True)
    for name in ("accelerate_config.yaml", "job.json"):
        (work / name).write_text(files[f"{prefix}/{name}"], encoding="utf-8")
    if job.method == "qlora":
        _require_cuda_for_qlora()
    from llmspec.runtime.embedding import quiet_libraries

    quiet_libraries()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no fork warnings from the launch
    start: Path | None = None
    if preference:
        ctx.log(f"    preparing {job.objective} examples from the fine-tune's result")
        train, validation = stage.examples(job, ctx, work)
        base, start = stage.starting_point(ctx)
        stage.check_budget(job, ctx, start or base, train + validation)
    else:
        ctx.log("    preparing examples and the base model")
        train, validation = _examples(job, ctx, work)
        base = _base_model(job, ctx, train + validation)
        targets = job.lora.target_modules
        if job.method != "full" and targets != "all-linear":
            _check_modules(base, targets)
    shared = None
    if ctx.build_store is not None:  # another runner may have started this fine-tune
        from llmspec.kinds.finetune.checkpoints import SharedCheckpoints

        shared = SharedCheckpoints(work, f"{ctx.build_store}/{ctx.app}/finetune/{work.name}")
        restored = shared.restore()
        if restored is not None:
            ctx.log(f"    {restored} from the build store (another runner's, interrupted)")
    run = _open_run(resource, ctx, job, work)
    probe = train[:PROBE_EXAMPLES]
    if preference:
        measured, pairs = stage.measured_on(train, validation)
        before = stage.margins_of(job, base, start, pairs, work / "baseline.json")
    else:
        before = _answers_score(job, base, None, probe, work / "baseline.json")
    ctx.log(f"    MLflow run {run.run_id}" + (" (resumed)" if run.resumed else ""))
    run.log_metrics({f"probe_{k}_before": v for k, v in before["scores"].items()})
    if shared is not None:
        shared.start()
    env = {"MLFLOW_TRACKING_URI": run.client.tracking_uri, "MLFLOW_RUN_ID": run.run_id}
    ray_job = None
    if job.compute.backend == "ray":
        from llmspec.kinds.finetune.ray_job import run_on_ray

        try:
            launched, ray_job = run_on_ray(job, ctx, work, base, env, lambda e: _show(e, ctx))
        except StepFailed:
            run.finish("FAILED")
            raise
    else:
        launched = launch(
            command(
                work / "accelerate_config.yaml",
                work / "job.json",
                work,
                ["--base-model", str(base), "--examples", str(work / "examples.jsonl")]
                + (["--start-from", str(start)] if start is not None else []),
            ),
            ctx.spec_dir,
            {**env, "LLMSPEC_CACHE": str(ctx.cache_dir), "OMP_NUM_THREADS": _threads(job)},
            work / "train.log",
            lambda event: _show(event, ctx),
        )
    if shared is not None:
        shared.stop()
    if launched.error is not None or launched.returncode != 0 or launched.result is None:
        run.finish("FAILED")
        raise StepFailed([_launch_failure(launched, work)])
    model_dir = work / "model"
    if preference:
        if job.method == "full":  # the trained weights are the whole model
            after = stage.margins_of(job, model_dir, None, pairs, None)
        else:
            after = stage.margins_of(job, base, model_dir, pairs, None)
    elif job.method == "full":  # the tuned weights are the model itself
        after = _answers_score(job, model_dir, None, probe, None)
    else:
        after = _answers_score(job, base, model_dir, probe, None)
    result = launched.result
    served = work / "merged" if (work / "merged").is_dir() else model_dir
    digest = folder_digest(served)
    changed = sum(a != b for a, b in zip(before["answers"], after["answers"], strict=False))
    if not preference:
        run.log_metrics({"probe_answers_changed": changed / max(len(probe), 1)})
    run.log_metrics(
        {
            **{f"probe_{k}_after": v for k, v in after["scores"].items()},
            "train_runtime_s": result.get("seconds"),
            "train_tokens_per_s": result.get("tokens_per_s"),
        },
        step=int(result["steps"]),
    )
    run.log_folder(model_dir, "model")
    if served != model_dir:
        run.log_folder(served, "merged")
    if ctx.spec.model.source == "builtin" and job.method != "full":
        # a built-in base is generated (its tokenizer learns the app's texts): an adapter loaded
        # on another machine needs this very base, which the spec alone does not give back
        run.log_folder(base, "base")
    run.set_tags({Tag.MODEL_DIGEST: digest, Tag.BASE_MODEL: ctx.relative(base)})
    run.finish()
    shutil.rmtree(work / "checkpoints", ignore_errors=True)  # done: the model is kept
    if preference:
        was, now = before["scores"], after["scores"]
        figures = (
            f"{measured} preference margin {_number(was.get('margin'))} → "
            f"{_number(now.get('margin'))}, pairs preferred the right way "
            f"{_share(was.get('accuracy'))} → {_share(now.get('accuracy'))}"
        )
    else:
        figures = (
            f"training answers ROUGE-L "
            f"{before['scores']['rouge_l']:.2f} → {after['scores']['rouge_l']:.2f}"
        )
    ctx.log(
        f"    {result['steps']} steps, loss {_number(result['first_loss'])} → "
        f"{_number(result['last_loss'])}; {figures}"
    )
    return FinetuneOutputs(
        run_id=run.run_id,
        tracking_uri=run.client.tracking_uri,
        method=job.method,
        base_model=ctx.relative(base),
        model_dir=ctx.relative(served),
        model_digest=digest,
        adapter_dir=None if job.method == "full" else ctx.relative(model_dir),
        merged=served != model_dir,
        steps=result["steps"],
        first_loss=result["first_loss"],
        last_loss=result["last_loss"],
        best_eval_loss=result["best_eval_loss"],
        stopped_early=result["stopped_early"],
        tokens_per_s=result["tokens_per_s"],
        examples=len(train),
        validation_examples=len(validation),
        probe={
            "before": before["scores"],
            "after": after["scores"],
            "changed": changed,
            **({"measured_on": measured} if preference else {}),
        },
        ray_job=ray_job,
    ).to_outputs()


def _require_cuda_for_qlora() -> None:
    missing = importlib.util.find_spec("bitsandbytes") is None
    if not missing:
        import torch

        missing = not torch.cuda.is_available()
    if missing:
        raise StepFailed(
            [
                error(
                    "LS712",
                    "QLoRA needs a CUDA GPU and the bitsandbytes package; this machine lacks them",
                    hint="run this environment on a GPU machine, or use `method: lora` here",
                )
            ]
        )


def _examples(job: JobConfig, ctx: RunContext, work: Path) -> tuple[list[Any], list[Any]]:
    from llmspec.runtime.sft_data import DataError
    from llmspec.runtime.sft_prepare import prepare, write_examples

    index = None
    if job.retrieval is not None:
        index = IndexOutputs.from_state_or_none(
            ctx.inputs.get(str(Address.index(job.retrieval.table)))
        )
    try:
        train, validation = prepare(
            job,
            ctx.spec_dir,
            index_uri=index.uri if index else None,
            index_version=index.version if index else None,
        )
    except DataError as exc:
        raise StepFailed(
            [
                error(
                    "LS701",
                    f"{exc.path}:{line}: {message}",
                    Span(str(ctx.spec_dir / exc.path), line, 1),
                )
                for line, message in exc.problems[:20]
            ]
        ) from exc
    write_examples(work / "examples.jsonl", train, validation)
    return train, validation


def _threads(job: JobConfig) -> str:
    """CPU threads per training process. Unless told, `accelerate launch` gives one thread to a
    process whose config does not say `use_cpu`, which `device: auto` on a machine without a
    GPU is; the cores shared by the machine's processes are the better default."""
    if os.environ.get("OMP_NUM_THREADS"):
        return os.environ["OMP_NUM_THREADS"]
    processes = max(1, int(job.compute.num_processes))
    return str(max(1, (os.cpu_count() or 1) // processes))


def _base_model(job: JobConfig, ctx: RunContext, examples: Sequence[Any]) -> Path:
    from llmspec.runtime.models import ModelUnavailable, model_folder
    from llmspec.runtime.sft_prepare import tokenizer_texts

    try:
        return model_folder(
            job.model, ctx.spec_dir, ctx.cache_dir / "models", lambda: tokenizer_texts(examples)
        )
    except ModelUnavailable as exc:
        raise StepFailed([error("LS710", str(exc), hint=exc.hint)]) from exc


def _check_modules(base: Path, targets: Sequence[str]) -> None:
    """LoRA targets against the model's linear modules, on the meta device: no weights read."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from llmspec.core.diagnostics import did_you_mean
    from llmspec.runtime.models import linear_module_names

    with torch.device("meta"):
        config = AutoConfig.from_pretrained(base)
        model = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    available = linear_module_names(model)
    missing = [t for t in targets if t not in available]
    if missing:
        guess = did_you_mean(missing[0], sorted(available))
        raise StepFailed(
            [
                error(
                    "LS711",
                    "LoRA target module(s) "
                    + ", ".join(f"`{m}`" for m in missing)
                    + f" are not in the base model ({type(model).__name__})",
                    hint=(guess + " " if guess else "")
                    + f"Its linear modules are {', '.join(sorted(available))}, "
                    "or use `target_modules: all-linear`",
                )
            ]
        )


def _open_run(resource: Resource, ctx: RunContext, job: JobConfig, work: Path) -> FinetuneRun:
    from llmspec.integrations.mlflow import lineage_tags

    tracking = ctx.spec.tracking
    data = job.to_dict()
    recipe = {k: data[k] for k in ("model", "method", "training", "compute", "dataset")}
    if job.objective != "sft":
        recipe.update(objective=job.objective, preference=data["preference"])
    if job.method != "full":
        recipe["lora"] = data["lora"]
    if job.method == "qlora":
        recipe["quantization"] = data["quantization"]
    spec_json = json.dumps(ctx.spec.model_dump(mode="json"), sort_keys=True, default=str)
    tags = {
        Tag.APP: ctx.app,
        Tag.ENV: ctx.env,
        Tag.RESOURCE: resource.address,
        Tag.INPUTS_DIGEST: resource.inputs_digest,
        Tag.SPEC_DIGEST: "sha256:" + hashlib.sha256(spec_json.encode()).hexdigest(),
        **lineage_tags(ctx.repo_root),
        Tag.PROMPT_TEMPLATE: job.prompt.name,
    }
    for address, state in ctx.inputs.items():
        kind = Address.parse(address).kind
        if kind == "dataset":
            dataset = DatasetOutputs.from_state_or_none(state)
            tags[Tag.FILE_DIGEST.format(address)] = dataset.file_digest if dataset else ""
        if kind == "index":
            index = IndexOutputs.from_state_or_none(state)
            tags[Tag.INDEX_VERSION] = str(index.version) if index else ""
    return FinetuneRun.open(
        tracking_uri(tracking.uri or Layout.TRACKING_URI, ctx.repo_root),
        experiment_name(ctx.spec, ctx.app, ctx.env),
        Layout(ctx.repo_root).mlartifacts,
        work,
        flatten("", recipe),
        tags,
    )


def _answers_score(
    job: JobConfig,
    base: Path,
    adapter: Path | None,
    examples: Sequence[Any],
    cache: Path | None,
) -> dict[str, Any]:
    """Greedy answers to the training questions and their ROUGE-L / exact match."""
    if cache is not None and cache.is_file():
        return dict(json.loads(cache.read_text(encoding="utf-8")))
    from llmspec.runtime.generation import Generator
    from llmspec.runtime.metrics import exact_match, rouge_l

    generator = Generator(base, adapter, device=job.compute.device)
    prompts = [e.prompt_text(generator.tokenizer) for e in examples]
    longest = max((len(generator.tokenizer(e.answer)["input_ids"]) for e in examples), default=8)
    limit = job.model.get("generation", {}).get("max_new_tokens", 256)
    answers = generator.generate(prompts, max_new_tokens=min(limit, longest + 8))
    scores = {
        "rouge_l": _mean(rouge_l(a, e.answer) for a, e in zip(answers, examples, strict=True)),
        "exact_match": _mean(
            exact_match(a, e.answer) for a, e in zip(answers, examples, strict=True)
        ),
    }
    outcome = {"answers": answers, "scores": scores}
    if cache is not None:
        cache.write_text(json.dumps(outcome), encoding="utf-8")
    return outcome


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _mean(values: Any) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def _show(event: dict[str, Any], ctx: RunContext) -> None:
    kind = event["event"]
    if kind == "start":
        resumed = event.get("resumed_from")
        ctx.log(
            f"    training on {event['examples']} examples ({event['sequences']} sequences, "
            f"{event['validation']} for validation), {event['trainable']:,} trainable parameters"
            + (f"; resuming from step {resumed}" if resumed else "")
            + (f"; {event['truncated']} truncated to max_seq_length" if event["truncated"] else "")
        )
    elif kind == "log" and "loss" in event:
        ctx.progress(int(event["step"]), int(event["total"] or 0))
    elif kind == "log" and "eval_loss" in event:
        ctx.log(f"    step {event['step']}: validation loss {event['eval_loss']:.4f}")


def _launch_failure(launched: Any, work: Path) -> Diagnostic:
    if launched.error is not None:
        return error("LS711", launched.error["message"], hint=launched.error.get("hint") or None)
    tail = "\n".join(launched.tail[-12:])
    return error(
        "LS602",
        f"training exited with status {launched.returncode}",
        hint=f"the end of {work / 'train.log'}:\n{tail}"
        + "\ncheckpoints are kept: apply again to resume from the last one",
    )


def folder_digest(folder: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        sha.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                sha.update(block)
    return "sha256:" + sha.hexdigest()
