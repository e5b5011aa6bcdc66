"""`finetune.<app>`: the fine-tune recipe rendered as an Accelerate job.

The digest covers what determines the weights: the base model (and revision), the training data,
the recipe, the seed, the mixed precision and the effective global batch (examples per device ×
accumulation × processes × machines, or × Ray workers). Where it runs stays out (the
backend and the Ray cluster, device, processes, machines, strategy, FSDP/DeepSpeed options, the
per-device split of the batch, image, namespace): two layouts with the same global batch share
one fine-tune, so prod reuses what staging trained on fewer machines (or on Ray), while a
different global batch retrains. It also leaves out the prompt templates
and the retrieval index, so editing a prompt or a corpus document does not retrain (records are
rendered through the template current when training runs).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from llmspec.engine.render import render_template
from llmspec.engine.step import DeclareContext, Resource, ResourceDecl, RunContext, Step
from llmspec.kinds.package.settings import prompt_config, retrieval_config
from llmspec.plans.address import Address
from llmspec.runtime.contracts import JobConfig
from llmspec.spec import Spec

MODEL_IDENTITY = ("source", "id", "revision", "path", "dtype", "seed", "trust_remote_code")


class FinetuneStep(Step):
    kind = "finetune"
    reusable = True
    replace_on = ("model", "method")
    templates = ("accelerate_config.yaml.j2", "finetune-job.yaml.j2")

    def declare(self, ctx: DeclareContext) -> Iterator[ResourceDecl]:
        spec = ctx.spec
        finetune = spec.finetune
        if finetune is None:
            return
        training, compute = finetune.training, finetune.compute
        weights = finetune.model_dump(
            mode="json", exclude={"dataset", "compute", "training", "preference"}
        )
        config = {
            "model": model_identity(spec),
            **weights,
            "training": {
                **training.model_dump(mode="json", exclude=set(PER_DEVICE)),
                "global_batch": global_batch(finetune, training),
            },
            "mixed_precision": compute.mixed_precision,
            "dataset": finetune.dataset.model_dump(mode="json", exclude={"train", "validation"}),
        }
        deps = [str(Address.dataset("train"))]
        if finetune.dataset.validation:
            deps.append(str(Address.dataset("validation")))
        # records are rendered with context retrieved from the index, but retraining on every
        # corpus edit would be waste: the index runs first, and its digest stays out of ours
        after = (
            (str(Address.index(spec.retrieval.store.table)),) if spec.retrieval is not None else ()
        )
        files: tuple[str, ...] = ()
        if spec.model.source == "local":
            files = ctx.expand([f"{spec.model.path}/**/*"])
        estimate = _estimate(ctx, finetune.dataset.train, training, compute)
        if finetune.method == "qlora" and (missing := qlora_missing()):
            estimate = f"QLoRA needs {missing}, which this machine lacks: apply will stop here"
        if compute.backend == "ray":
            from llmspec.integrations.ray import INSTALL, ray_missing

            if ray_missing():
                estimate = f"Ray is not installed (`{INSTALL}`): apply will stop here"
            else:
                estimate = f"on Ray, {compute.ray.workers} workers; " + (estimate or "")
        yield ResourceDecl(
            self.kind,
            spec.metadata.name,
            config,
            files,
            tuple(deps),
            after,
            settings=_settings(compute, training),
            estimate=estimate,
        )
        if finetune.preference is not None:
            yield self._preference(ctx, config, after)

    def _preference(
        self, ctx: DeclareContext, tuned: dict[str, Any], after: tuple[str, ...]
    ) -> ResourceDecl:
        """The preference stage: the fine-tune's weights settings, its own data and
        optimisation, and the fine-tune as a dependency (its result is where it starts)."""
        finetune = ctx.spec.finetune
        assert finetune is not None and finetune.preference is not None
        preference, compute = finetune.preference, finetune.compute
        training = preference.training
        data = preference.dataset
        config = {
            **{k: tuned[k] for k in ("model", "method", "lora", "quantization", "merge_adapter")},
            "objective": preference.method,
            "preference": preference.model_dump(
                mode="json", include={"beta", "loss_type", "desirable_weight", "undesirable_weight"}
            ),
            "training": {
                **training.model_dump(mode="json", exclude=set(PER_DEVICE)),
                "global_batch": global_batch(finetune, training),
            },
            "mixed_precision": compute.mixed_precision,
            "dataset": data.model_dump(mode="json", exclude={"train", "validation"}),
        }
        deps = [str(Address.finetune(ctx.spec.metadata.name))]
        deps += [
            str(Address.preference_dataset(split))
            for split, path in (("train", data.train), ("validation", data.validation))
            if path
        ]
        estimate = _estimate(ctx, data.train, training, compute)
        return ResourceDecl(
            self.kind,
            Address.preference(ctx.spec.metadata.name).name,
            config,
            (),
            tuple(deps),
            after,
            settings=_settings(compute, training),
            estimate=f"{preference.method} from the fine-tune; " + (estimate or ""),
        )

    def render(self, resource: Resource, spec: Spec) -> dict[str, str]:
        prefix = files_prefix(resource)
        recipe = full_recipe(resource)
        compute = recipe["compute"]
        accelerate = render_template(
            "accelerate_config.yaml.j2",
            compute=compute,
            accelerate=accelerate_settings(
                compute, recipe["training"]["gradient_accumulation_steps"]
            ),
        )
        job = job_document(resource, spec).to_json()
        app = spec.metadata.name
        cluster = {
            "app": app,
            "name": f"{app}-finetune",
            "image": resource.settings.get("image") or f"{app}-train:latest",
            "namespace": resource.settings.get("namespace", "default"),
            "digest": resource.inputs_digest.split(":")[-1][:12],
            "gpus": compute["num_processes"] if compute["device"] != "cpu" else 0,
        }
        rendered = {f"{prefix}/accelerate_config.yaml": accelerate, f"{prefix}/job.json": job}
        if prefix != "finetune":
            # it starts from the fine-tune's result on this machine: no cluster manifests
            return rendered
        if compute["backend"] == "ray":
            rendered.update(_kuberay(cluster, compute["ray"], job, spec, resource))
        rendered["finetune/job.yaml"] = render_template(
            "finetune-job.yaml.j2",
            compute=compute,
            cluster=cluster,
            files={"accelerate_config.yaml": accelerate, "job.json": job},
        )
        return rendered

    def run(self, resource: Resource, ctx: RunContext) -> dict[str, Any]:
        from llmspec.kinds.finetune.run import run_finetune

        return run_finetune(resource, ctx, self.render(resource, ctx.spec))


def files_prefix(resource: Resource) -> str:
    """Where a fine-tune's rendered files go: the preference stage's beside the fine-tune's."""
    return "finetune/preference" if resource.config.get("objective") else "finetune"


def model_identity(spec: Spec) -> dict[str, Any]:
    model = spec.model.model_dump(mode="json")
    return {k: model[k] for k in MODEL_IDENTITY if k in model}


def _settings(compute: Any, training: Any) -> dict[str, Any]:
    """Where and how it runs: not in the digest."""
    return {
        **compute.model_dump(mode="json", include={"image", "namespace"}),
        "compute": compute.model_dump(mode="json", exclude={"image", "namespace"}),
        **training.model_dump(mode="json", include=set(PER_DEVICE)),
    }


def _kuberay(
    cluster: dict[str, Any], ray: dict[str, Any], job: str, spec: Spec, resource: Resource
) -> dict[str, str]:
    """`rayjob.yaml` and `raycluster.yaml` (KubeRay), for a cluster in Kubernetes."""
    import yaml

    from llmspec.kinds.finetune.kuberay import manifests

    artifacts = spec.state.artifacts
    storage = ray["storage"] or (artifacts if artifacts.startswith("s3://") else None)
    where = f"{cluster['app']}/finetune/{resource.inputs_digest.split(':')[-1]}"
    documents = manifests(
        {
            **cluster,
            "storage": f"{storage.rstrip('/')}/{where}"
            if storage
            else f"/workspace/.llmspec/ray/{where}",
            "tracking": spec.tracking.uri,
        },
        ray,
        job,
    )
    header = (
        f"# Rendered by llmspec for {cluster['app']} ({cluster['digest']}): the fine-tune on "
        "KubeRay.\n"
    )
    if not storage:
        header += (
            "# No `compute.ray.storage` nor `state.artifacts: s3://…`: checkpoints stay in the "
            "pods (set one to resume across pods).\n"
        )

    class Plain(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:  # manifests are read by people: no &id1
            return True

    def text(dumper: yaml.SafeDumper, value: str) -> Any:  # a file's text as a `|` block
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Plain.add_representer(str, text)
    return {
        f"finetune/{name}.yaml": header
        + yaml.dump_all(docs, Dumper=Plain, sort_keys=False, width=1000)
        for name, docs in documents.items()
    }


def job_document(resource: Resource, spec: Spec) -> JobConfig:
    """The training entrypoint's input: the recipe, plus how records become prompts (the app's
    template and index settings as they are now). Paths are relative to the spec's folder."""
    assert spec.finetune is not None
    preference = spec.finetune.preference
    data: Any = spec.finetune.dataset
    if resource.config.get("objective") and preference is not None:
        data = preference.dataset
    prompt = prompt_config(spec.prompts.model_dump(mode="json"), data.prompt_template)
    retrieval = retrieval_config(spec)
    return JobConfig.from_dict(  # the resource's config checked against the job's shape
        {
            "resource": resource.address,
            "inputs_digest": resource.inputs_digest,
            "app": spec.metadata.name,
            **full_recipe(resource),
            "dataset": {
                **resource.config["dataset"],
                "train": data.train,
                "validation": data.validation,
            },
            "prompt": prompt.to_dict(),
            "retrieval": retrieval.to_dict() if retrieval is not None else None,
        }
    )


PER_DEVICE = ("batch_size", "gradient_accumulation_steps")  # their product with the layout counts


def global_batch(finetune: Any, training: Any) -> int:
    """Examples per optimizer step, whatever the layout that splits them."""
    per_device = training.batch_size * training.gradient_accumulation_steps
    return int(per_device * processes(finetune.compute))


def processes(compute: Any) -> int:
    """Training processes in all: Ray workers, or processes per machine × machines."""
    if compute.backend == "ray":
        return int(compute.ray.workers)
    return int(compute.num_processes * compute.num_machines)


def full_recipe(resource: Resource) -> dict[str, Any]:
    """The digested recipe joined with its placement: what the training job reads."""
    config, settings = dict(resource.config), resource.settings
    training = {k: v for k, v in config.pop("training").items() if k != "global_batch"}
    config.pop("mixed_precision")
    compute = dict(settings["compute"])
    training.update({k: settings[k] for k in PER_DEVICE})
    return {**config, "training": training, "compute": compute}


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


def qlora_missing() -> str | None:
    """What QLoRA needs and this machine lacks, found without importing torch (plan stays
    light): bitsandbytes, and an NVIDIA driver."""
    import importlib.util
    import shutil
    from pathlib import Path

    missing = []
    if importlib.util.find_spec("bitsandbytes") is None:
        missing.append("bitsandbytes")
    if not Path("/proc/driver/nvidia/version").exists() and shutil.which("nvidia-smi") is None:
        missing.append("a CUDA GPU")
    return " and ".join(missing) or None


def _estimate(ctx: DeclareContext, train: str, training: Any, compute: Any) -> str | None:
    """Optimizer steps the recipe implies: records per step from batch size, accumulation and
    processes (the validation split is left in: an estimate, before any file is parsed)."""
    try:
        with open(ctx.spec_dir / train, "rb") as handle:
            records = sum(1 for line in handle if line.strip())
    except OSError:
        return None
    per_step = training.batch_size * training.gradient_accumulation_steps
    per_step *= processes(compute)
    if training.max_steps:
        return f"{records} records, {training.max_steps} optimizer steps of {per_step}"
    steps = math.ceil(records / per_step) * training.epochs
    return f"{records} records × {training.epochs:g} epochs ≈ {math.ceil(steps)} optimizer steps"
