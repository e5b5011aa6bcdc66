"""`eval.<app>`: the eval datasets through the packaged model; metrics for the gates."""

from __future__ import annotations

from collections.abc import Iterator

from llmspec.steps.base import DeclareContext, ResourceDecl, Step


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
        deps = [f"package.{app}"] + [f"dataset.eval-{name}" for name in evaluation.datasets]
        # plug-in metrics are code the results depend on: their source is digested
        files = tuple(
            sorted(
                {
                    f"{metric.function.split(':')[0].replace('.', '/')}.py"
                    for metric in evaluation.metrics
                    if metric.function
                    and (
                        ctx.spec_dir / (metric.function.split(":")[0].replace(".", "/") + ".py")
                    ).is_file()
                }
            )
        )
        yield ResourceDecl(self.kind, app, config, files, tuple(deps))
