"""Names that must refer to something defined elsewhere in the spec."""

from __future__ import annotations

from collections.abc import Iterator

from llmspec.checks.context import CheckContext
from llmspec.core.diagnostics import Diagnostic, did_you_mean, error


def check_references(ctx: CheckContext) -> Iterator[Diagnostic]:
    templates = list(ctx.spec.prompts.templates)
    default = ctx.spec.prompts.default
    if default is not None and default not in templates:
        yield error(
            "LS404",
            f"`prompts.default` names template `{default}`, which is not defined",
            ctx.span("prompts", "default"),
            hint=did_you_mean(default, templates)
            or "defined templates: " + ", ".join(f"`{t}`" for t in templates),
            related=ctx.related("templates are defined here", "prompts", "templates"),
        )
    elif default is None and len(templates) > 1:
        yield error(
            "LS404",
            "`prompts.default` is not set and there is more than one template",
            ctx.key("prompts"),
            hint=f"add `default: {templates[0]}` under `prompts`",
        )
    finetune = ctx.spec.finetune
    if finetune is not None and finetune.dataset.prompt_template is not None:
        name = finetune.dataset.prompt_template
        if name not in templates:
            yield error(
                "LS404",
                f"`finetune.dataset.prompt_template` names template `{name}`, which is not defined",
                ctx.span("finetune", "dataset", "prompt_template"),
                hint=did_you_mean(name, templates),
                related=ctx.related("templates are defined here", "prompts", "templates"),
            )
    evaluation = ctx.spec.evaluation
    if evaluation is not None:
        datasets = list(evaluation.datasets)
        for i, gate in enumerate(evaluation.gates):
            if gate.dataset is not None and gate.dataset not in datasets:
                yield error(
                    "LS404",
                    f"gate on `{gate.metric}` names dataset `{gate.dataset}`, which is not defined",
                    ctx.span("evaluation", "gates", i, "dataset"),
                    hint=did_you_mean(gate.dataset, datasets),
                    related=ctx.related("datasets are defined here", "evaluation", "datasets"),
                )
