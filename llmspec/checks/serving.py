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
