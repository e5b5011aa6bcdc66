"""Evaluation metrics and gates: what is gated is computed, and can be computed."""

from __future__ import annotations

from collections.abc import Iterator

from llmspec.checks.context import CheckContext
from llmspec.core.diagnostics import Diagnostic, did_you_mean, error, warning
from llmspec.spec.catalog import RETRIEVAL_METRICS
from llmspec.spec.evaluation import metric_k


def check_metrics(ctx: CheckContext) -> Iterator[Diagnostic]:
    evaluation = ctx.spec.evaluation
    if evaluation is None:
        return
    names = [m.name for m in evaluation.metrics]
    retrieval = ctx.spec.retrieval
    for i, metric in enumerate(evaluation.metrics):
        where = ctx.span("evaluation", "metrics", i)
        k = metric_k(metric.name)
        if k is not None and metric.name.split("@")[0] in RETRIEVAL_METRICS:
            if retrieval is None:
                yield error(
                    "LS412",
                    f"`{metric.name}` measures retrieval, but the spec has no `retrieval` section",
                    where,
                    hint="add a `retrieval` section, or remove the metric",
                )
            elif k > retrieval.top_k:
                yield warning(
                    "LS413",
                    f"`{metric.name}` looks at {k} results but retrieval "
                    f"returns top_k = {retrieval.top_k}",
                    where,
                    hint=f"use `{metric.name.split('@')[0]}@{retrieval.top_k}` or raise "
                    "`retrieval.top_k`",
                    related=ctx.related("top_k is set here", "retrieval", "top_k"),
                )
        if metric.function is not None:
            module = metric.function.split(":")[0]
            if not _module_in_repo(ctx, module):
                yield warning(
                    "LS414",
                    f"plug-in module `{module}` is not in the repository",
                    ctx.span("evaluation", "metrics", i, "function"),
                    hint=f"expected `{module.replace('.', '/')}.py` next to the spec or "
                    "at the repository root; an installed package also works",
                )
    for i, gate in enumerate(evaluation.gates):
        if gate.metric not in names:
            yield error(
                "LS410",
                f"gate on `{gate.metric}`, which is not among the computed metrics",
                ctx.span("evaluation", "gates", i, "metric"),
                hint=did_you_mean(gate.metric, names)
                or f"add `{gate.metric}` to `evaluation.metrics`",
                related=ctx.related("metrics are listed here", "evaluation", "metrics"),
            )
        if gate.compare is not None and ctx.spec.serving.registry is None:
            yield error(
                "LS411",
                f"gate compares with alias `{gate.compare}`, but the model is "
                "not registered (`serving.registry` is null)",
                ctx.span("evaluation", "gates", i, "compare"),
                hint="set `serving.registry`, or drop the comparison gate",
                related=ctx.related("the registry is turned off here", "serving", "registry"),
            )
        if gate.repeats > 1 and ctx.spec.model.generation.temperature == 0:
            yield warning(
                "LS417",
                f"the gate samples each example {gate.repeats} times, but decoding is greedy "
                "(temperature 0): every sample is the same answer",
                ctx.span("evaluation", "gates", i, "repeats"),
                hint="set `model.generation.temperature` above 0, or drop `repeats`",
                related=ctx.related(
                    "temperature is set here", "model", "generation", "temperature"
                ),
            )


def _module_in_repo(ctx: CheckContext, module: str) -> bool:
    relative = module.replace(".", "/")
    for base in {ctx.spec_dir, ctx.repo_root}:
        if (base / f"{relative}.py").is_file() or (base / relative / "__init__.py").is_file():
            return True
    return False
