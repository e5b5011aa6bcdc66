"""`finetune.<app>`: the fine-tune recipe rendered as an Accelerate job.

The digest covers the recipe, the base model and the training data; it deliberately leaves out
the prompt templates and the retrieval index, so editing a prompt or a corpus document does not
retrain (records are rendered through the template current when training runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmspec.render import render_template, to_json
from llmspec.spec import Spec
from llmspec.steps.base import DeclareContext, Resource, ResourceDecl, Step

MODEL_IDENTITY = ("source", "id", "revision", "path", "dtype", "seed", "trust_remote_code")


class FinetuneStep(Step):
    kind = "finetune"
    reusable = True
    replace_on = ("model", "method")
    templates = ("accelerate_config.yaml.j2",)

    def declare(self, ctx: DeclareContext) -> Iterator[ResourceDecl]:
        spec = ctx.spec
        finetune = spec.finetune
        if finetune is None:
            return
        model = spec.model.model_dump(mode="json")
        config = {
            "model": {k: model[k] for k in MODEL_IDENTITY if k in model},
            **finetune.model_dump(mode="json", exclude={"dataset"}),
            "dataset": finetune.dataset.model_dump(mode="json", exclude={"train", "validation"}),
        }
        deps = ["dataset.train"] + (["dataset.validation"] if finetune.dataset.validation else [])
        files: tuple[str, ...] = ()
        if spec.model.source == "local":
            files = ctx.expand([f"{spec.model.path}/**/*"])
        training = finetune.training
        yield ResourceDecl(
            self.kind,
            spec.metadata.name,
            config,
            files,
            tuple(deps),
            estimate=_estimate(ctx, finetune.dataset.train, training.epochs, training.max_steps),
        )

    def render(self, resource: Resource, spec: Spec) -> dict[str, str]:
        compute = resource.config["compute"]
        job = {
            "resource": resource.address,
            "inputs_digest": resource.inputs_digest,
            **{k: v for k, v in resource.config.items() if k != "compute"},
        }
        return {
            "finetune/accelerate_config.yaml": render_template(
                "accelerate_config.yaml.j2",
                compute=compute,
                accelerate=accelerate_settings(
                    compute, resource.config["training"]["gradient_accumulation_steps"]
                ),
            ),
            "finetune/job.json": to_json(job) + "\n",
        }


def accelerate_settings(compute: dict[str, Any], accumulation: int) -> dict[str, Any]:
    """Accelerate's config-file keys for a `compute` section."""
    strategy = compute["strategy"]
    processes = compute["num_processes"] * compute["num_machines"]
    cpu = compute["device"] == "cpu"
    if strategy == "fsdp":
        distributed = "FSDP"
    elif strategy.startswith("deepspeed"):
        distributed = "DEEPSPEED"
    elif processes > 1:
        distributed = "MULTI_CPU" if cpu else "MULTI_GPU"
    else:
        distributed = "NO"
    settings: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": distributed,
        "mixed_precision": compute["mixed_precision"],
        "num_machines": compute["num_machines"],
        "num_processes": processes,
        "machine_rank": 0,
        "use_cpu": cpu,
        "rdzv_backend": "static",
        "same_network": True,
        "main_training_function": "main",
    }
    if compute["num_machines"] > 1:
        settings["main_process_port"] = 29500
    if distributed == "FSDP":
        fsdp = compute["fsdp"]
        settings["fsdp_config"] = {
            "fsdp_auto_wrap_policy": (
                "TRANSFORMER_BASED_WRAP"
                if fsdp["wrap_policy"] == "transformer"
                else "SIZE_BASED_WRAP"
            ),
            "fsdp_min_num_params": fsdp["min_num_params"],
            "fsdp_sharding_strategy": {
                "full": "FULL_SHARD",
                "hybrid": "HYBRID_SHARD",
                "grad_op": "SHARD_GRAD_OP",
            }[fsdp["sharding"]],
            "fsdp_offload_params": fsdp["cpu_offload"],
            "fsdp_state_dict_type": "SHARDED_STATE_DICT",
            "fsdp_use_orig_params": True,
        }
    if distributed == "DEEPSPEED":
        deepspeed = compute["deepspeed"]
        settings["deepspeed_config"] = {
            "zero_stage": 3 if strategy.endswith("zero3") else 2,
            "offload_optimizer_device": deepspeed["offload_optimizer"],
            "offload_param_device": deepspeed["offload_params"],
            "gradient_accumulation_steps": accumulation,
            "zero3_init_flag": strategy.endswith("zero3"),
        }
    return settings


def _estimate(ctx: DeclareContext, train: str, epochs: float, max_steps: int | None) -> str | None:
    try:
        size = (ctx.spec_dir / train).stat().st_size
    except OSError:
        return None
    tokens = size // 4  # the same four-characters-per-token estimate as the budget check
    if max_steps:
        return f"≈{tokens:,} tokens in the data, at most {max_steps} steps"
    return f"≈{int(tokens * epochs):,} training tokens ({tokens:,} × {epochs:g} epochs)"
