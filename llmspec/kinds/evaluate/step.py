"""`eval.<app>`: the eval datasets through the packaged model; metrics for the gates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmspec.engine.step import DeclareContext, Resource, ResourceDecl, RunContext, Step
from llmspec.plans.address import Address


class EvalStep(Step):
    kind = "eval"
    reusable = True  # the same package on the same data gives the same metrics

    def declare(self, ctx: DeclareContext) -> Iterator[ResourceDecl]:
        spec = ctx.spec
        evaluation = spec.evaluation
        if evaluation is None:
            return
        app = spec.metadata.name
        config = evaluation.model_dump(mode="json", exclude={"gates"})
        for dataset in config["datasets"].values():
            dataset.pop("path")
        deps = [Address.package(app)] + [Address.eval_dataset(n) for n in evaluation.datasets]
        # plug-in metrics are code the results depend on: their sources are digested
        files: set[str] = set()
        for metric in evaluation.metrics:
            if metric.function:
                files.update(plugin_sources(ctx, metric.function.split(":")[0]))
        files_read = tuple(sorted(files))
        yield ResourceDecl(self.kind, app, config, files_read, tuple(str(d) for d in deps))

    def run(self, resource: Resource, ctx: RunContext) -> dict[str, Any]:
        from llmspec.kinds.evaluate.run import run_eval

        return run_eval(resource, ctx)


def plugin_sources(ctx: DeclareContext, module: str) -> tuple[str, ...]:
    """The Python files of a plug-in module in the spec's folder: the module file, or every
    file of its top-level package (a metric may import its siblings)."""
    top = module.split(".")[0]
    if (ctx.spec_dir / top).is_dir():
        return ctx.expand([f"{top}/**/*.py"])
    single = f"{top}.py"
    return (single,) if (ctx.spec_dir / single).is_file() else ()
