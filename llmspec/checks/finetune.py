"""Fine-tuning: the model can be tuned, and the target can run the recipe."""

from __future__ import annotations

from collections.abc import Iterator

from llmspec.checks.context import CheckContext
from llmspec.core.diagnostics import Diagnostic, did_you_mean, error, warning
from llmspec.spec.catalog import BUILTIN_MODELS


def check_finetune(ctx: CheckContext) -> Iterator[Diagnostic]:
    finetune = ctx.spec.finetune
    if finetune is None:
        return
    model = ctx.spec.model
    if model.source == "openai-compatible":
        yield error(
            "LS420",
            "an `openai-compatible` model is served through an API and cannot be fine-tuned here",
            ctx.key("finetune"),
            hint="fine-tune an `hf`, `local` or `builtin` model, or drop `finetune` in "
            "this environment (`finetune: null`)",
            related=ctx.related("the model source is chosen here", "model", "source"),
        )
    if model.source == "builtin" and finetune.method != "full":
        yield from _lora_targets(ctx, BUILTIN_MODELS[model.id].linear_modules)
    compute = finetune.compute
    if finetune.method == "qlora" and (compute.device == "cpu" or model.source == "builtin"):
        why = "`compute.device` is cpu" if compute.device == "cpu" else "built-in models run on CPU"
        yield warning(
            "LS421",
            f"QLoRA needs a CUDA GPU and bitsandbytes, but {why}",
            ctx.span("finetune", "method"),
            hint="use `method: lora` in environments without GPUs",
            related=ctx.related("device chosen here", "finetune", "compute", "device"),
        )
    if compute.mixed_precision == "fp16" and (compute.device == "cpu" or model.source == "builtin"):
        yield warning(
            "LS421",
            "fp16 mixed precision needs a GPU; on a CPU Accelerate refuses it",
            ctx.span("finetune", "compute", "mixed_precision"),
            hint='use `mixed_precision: bf16` or `"no"` on CPU',
        )
    if compute.mixed_precision == "bf16" and compute.device == "cpu":
        yield warning(
            "LS421",
            "bf16 mixed precision on a CPU is emulated, and slower than fp32, unless the CPU has "
            "native bf16 (AVX512-BF16 or AMX)",
            ctx.span("finetune", "compute", "mixed_precision"),
            hint='use `mixed_precision: "no"` on ordinary CPUs',
            related=ctx.related("the device is chosen here", "finetune", "compute", "device"),
        )
    if finetune.method == "full" and ctx.has("finetune", "lora"):
        yield warning(
            "LS422",
            "`finetune.lora` is ignored by `method: full`",
            ctx.key("finetune", "lora"),
            hint="remove it, or use `method: lora`",
            related=ctx.related("method chosen here", "finetune", "method"),
        )
    if finetune.method != "qlora" and ctx.has("finetune", "quantization"):
        yield warning(
            "LS422",
            f"`finetune.quantization` is ignored by `method: {finetune.method}`",
            ctx.key("finetune", "quantization"),
            hint="it applies to `method: qlora`",
            related=ctx.related("method chosen here", "finetune", "method"),
        )
    strategy = compute.strategy
    if (ctx.has("finetune", "compute", "fsdp") and strategy != "fsdp") or (
        ctx.has("finetune", "compute", "deepspeed") and not strategy.startswith("deepspeed")
    ):
        section = "fsdp" if ctx.has("finetune", "compute", "fsdp") else "deepspeed"
        yield warning(
            "LS422",
            f"`finetune.compute.{section}` is ignored by strategy `{strategy}`",
            ctx.key("finetune", "compute", section),
        )
    yield from _preference_settings(ctx)


# a preference setting and the methods that read it
_PREFERENCE_SETTINGS = {
    "loss_type": ("dpo",),
    "desirable_weight": ("kto",),
    "undesirable_weight": ("kto",),
}


def _preference_settings(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A preference setting the chosen method does not read is a warning, not silence."""
    assert ctx.spec.finetune is not None
    preference = ctx.spec.finetune.preference
    if preference is None:
        return
    for name, methods in _PREFERENCE_SETTINGS.items():
        if preference.method not in methods and ctx.has("finetune", "preference", name):
            yield warning(
                "LS422",
                f"`finetune.preference.{name}` is ignored by `method: {preference.method}`",
                ctx.key("finetune", "preference", name),
                hint=f"it applies to `method: {' or '.join(methods)}`",
                related=ctx.related("method chosen here", "finetune", "preference", "method"),
            )


def _lora_targets(ctx: CheckContext, available: tuple[str, ...]) -> Iterator[Diagnostic]:
    assert ctx.spec.finetune is not None
    targets = ctx.spec.finetune.lora.target_modules
    if targets == "all-linear":
        return
    for i, name in enumerate(targets):
        if name not in available:
            guess = did_you_mean(name, available)
            yield error(
                "LS423",
                f"LoRA target module `{name}` is not in the built-in model "
                f"`{getattr(ctx.spec.model, 'id', '')}`",
                ctx.span("finetune", "lora", "target_modules", i),
                hint=(guess + " " if guess else "")
                + f"Its linear modules are {', '.join(available)}, or use `all-linear`",
                related=ctx.related("the model is chosen here", "model", "source"),
            )
