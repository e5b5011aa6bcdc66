"""Serving targets: they have a registered model to serve, and do not collide; alerts that
ask to retrain have a fine-tune to retrain."""

from __future__ import annotations

from collections.abc import Iterator

from llmspec.checks.context import CheckContext
from llmspec.core.diagnostics import Diagnostic, Related, error, warning


def check_serving(ctx: CheckContext) -> Iterator[Diagnostic]:
    serving = ctx.spec.serving
    if serving.targets and serving.registry is None:
        yield error(
            "LS460",
            "serving targets serve a registered model version, but `serving.registry` is null",
            ctx.key("serving", "targets"),
            hint="set `serving.registry`, or remove the targets",
            related=ctx.related("the registry is turned off here", "serving", "registry"),
        )
    seen: dict[tuple[str, str], int] = {}
    for i, target in enumerate(serving.targets):
        place = str(getattr(target, "namespace", getattr(target, "port", "")))
        key = (target.kind, place)
        if key in seen:
            first = ctx.span("serving", "targets", seen[key])
            yield error(
                "LS461",
                f"two `{target.kind}` targets at `{place}`",
                ctx.span("serving", "targets", i),
                hint="give each target its own namespace or port",
                related=[Related(first, "the first one is here")] if first else [],
            )
        else:
            seen[key] = i

    yield from _vllm(ctx)

    if ctx.spec.finetune is None:
        for i, alert in enumerate(serving.monitoring.alerts):
            if alert.action == "retrain":
                yield warning(
                    "LS462",
                    f"the alert on `{alert.metric}` asks to retrain, but the spec has no "
                    "`finetune`: monitor will only report it",
                    ctx.span("serving", "monitoring", "alerts", i, "action"),
                    hint="use `action: notify`, or add a `finetune` section",
                )


def _vllm(ctx: CheckContext) -> Iterator[Diagnostic]:
    """vLLM serves weights (a base and LoRA adapters it can hold), not another endpoint."""
    spec = ctx.spec
    if spec.serving.runtime != "vllm":
        return
    where = ctx.span("serving", "runtime")
    if spec.model.source == "openai-compatible":
        yield error(
            "LS463",
            "`runtime: vllm` serves model weights, but the model is an `openai-compatible` "
            "endpoint",
            where,
            hint="remove `serving.runtime` (the app server calls the endpoint itself)",
        )
        return
    tune = spec.finetune
    if tune is None or tune.method == "full" or tune.merge_adapter:
        return
    rank = spec.serving.vllm.max_lora_rank
    if tune.lora.r > rank:
        yield error(
            "LS463",
            f"the adapter's rank ({tune.lora.r}) is above `serving.vllm.max_lora_rank` "
            f"({rank}): vLLM would refuse to load it",
            ctx.span("serving", "vllm", "max_lora_rank")
            if ctx.has("serving", "vllm", "max_lora_rank")
            else where,
            hint=f"set `serving.vllm.max_lora_rank: {_rank_for(tune.lora.r)}`",
            related=ctx.related("the rank is set here", "finetune", "lora", "r"),
        )


def _rank_for(r: int) -> int:
    """The smallest of vLLM's rank sizes that holds rank ``r``."""
    return next((size for size in (1, 8, 16, 32, 64, 128, 256, 320, 512) if size >= r), 512)
