"""Rollouts and online judges: a rollout has a registry alias to move and guards it can read
(and, on vLLM, an adapter to load beside the champion's); an online judge is one of the
evaluation's metrics and needs nothing a served trace lacks."""

from __future__ import annotations

from collections.abc import Iterator

from llmspec.checks.context import CheckContext
from llmspec.core.diagnostics import Diagnostic, did_you_mean, error
from llmspec.spec.catalog import BUILTIN_AT_K_METRICS
from llmspec.spec.rollout import ONLINE_METRICS

# built-ins that compare with a reference answer or relevant documents: served traces have
# neither (a correction, when a user gave one, is not a reference for every trace)
NEEDS_REFERENCE = ("exact_match", "contains", "rouge_l", "bleu", *BUILTIN_AT_K_METRICS)


def check_rollout(ctx: CheckContext) -> Iterator[Diagnostic]:
    serving = ctx.spec.serving
    evaluation = ctx.spec.evaluation
    metrics = {m.name: m for m in evaluation.metrics} if evaluation is not None else {}
    judges = [j.metric for j in serving.monitoring.judges]
    for i, judge in enumerate(serving.monitoring.judges):
        where = ctx.span("serving", "monitoring", "judges", i, "metric")
        metric = metrics.get(judge.metric)
        if metric is None:
            guess = did_you_mean(judge.metric, metrics)
            yield error(
                "LS466",
                f"online judge `{judge.metric}` is not a metric of `evaluation.metrics`",
                where,
                hint=guess
                if guess
                else "list it under `evaluation.metrics` (a judge, a plug-in or a built-in)",
            )
        elif (
            not metric.judge
            and not metric.function
            and judge.metric.split("@")[0] in (NEEDS_REFERENCE)
        ):
            yield error(
                "LS466",
                f"`{judge.metric}` compares with a reference, which served traces do not have",
                where,
                hint="judge online with a `judge` rubric or a `function` plug-in",
            )
    rollout = serving.rollout
    if rollout is None:
        return
    if serving.registry is None:
        yield error(
            "LS467",
            "a rollout moves a registry alias, but `serving.registry` is null",
            ctx.key("serving", "rollout"),
            hint="set `serving.registry`, or remove `serving.rollout`",
        )
    if serving.runtime == "vllm":
        yield from _vllm_rollout(ctx)
    known = [*ONLINE_METRICS, *judges]
    for i, guard in enumerate(rollout.guards):
        if guard.metric in known:
            continue
        guess = did_you_mean(guard.metric, known)
        yield error(
            "LS467",
            f"guard `{guard.metric}` is neither an online figure nor an online judge",
            ctx.span("serving", "rollout", "guards", i, "metric"),
            hint=guess
            if guess
            else f"one of {', '.join(ONLINE_METRICS)}, or a metric of `serving.monitoring.judges`",
        )


def _vllm_rollout(ctx: CheckContext) -> Iterator[Diagnostic]:
    """With `runtime: vllm` the app server loads the challenger's LoRA adapter into the vLLM
    server `llmspec serve` started beside it (`runtime/lora_loading.py`): the challenger needs
    an adapter, and a cluster's vLLM pods cannot read what an app pod downloads."""
    serving, tune = ctx.spec.serving, ctx.spec.finetune
    if tune is None or tune.method == "full" or tune.merge_adapter:
        said = "no fine-tune" if tune is None else "merged" if tune.merge_adapter else "full"
        yield error(
            "LS467",
            f"with `runtime: vllm` a challenger shares the champion's vLLM base through its "
            f"LoRA adapter, and this spec's model has none ({said})",
            ctx.span("serving", "runtime"),
            hint="fine-tune with `method: lora` and no `merge_adapter`, roll out on "
            "`runtime: inprocess`, or promote at once (remove `serving.rollout`)",
        )
    for i, target in enumerate(serving.targets):
        if target.kind in ("kubernetes", "kserve"):
            yield error(
                "LS467",
                f"a `{target.kind}` target's vLLM pods serve the adapters they fetched at start; "
                "a rollout's challenger is loaded at runtime only into `llmspec serve`'s vLLM",
                ctx.span("serving", "targets", i, "kind"),
                hint="roll out on `runtime: inprocess` there, or promote at once "
                "(remove `serving.rollout`)",
            )
