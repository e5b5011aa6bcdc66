"""`promote.<app>@<alias>`: move the environment's registry alias when every gate holds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmspec.engine.step import (
    DeclareContext,
    Drift,
    Resource,
    ResourceDecl,
    RunContext,
    Step,
)
from llmspec.plans.address import Address
from llmspec.state.model import ResourceState


class PromoteStep(Step):
    kind = "promote"

    def declare(self, ctx: DeclareContext) -> Iterator[ResourceDecl]:
        spec = ctx.spec
        registry = spec.serving.registry
        if registry is None:
            return
        app = spec.metadata.name
        gates = (
            [g.model_dump(mode="json") for g in spec.evaluation.gates] if spec.evaluation else []
        )
        config = {"gates": gates, "approvals": spec.governance.approvals}
        dep = Address.eval(app) if spec.evaluation is not None else Address.package(app)
        settings = {"registered_name": spec.registered_name, "alias": registry.alias}
        name = Address.promote(app, registry.alias).name
        yield ResourceDecl(self.kind, name, config, (), (str(dep),), settings=settings)

    def run(self, resource: Resource, ctx: RunContext) -> dict[str, Any]:
        from llmspec.kinds.promote.run import run_promote

        return run_promote(resource, ctx)

    def refresh(self, resource: ResourceState, ctx: RunContext) -> list[Drift]:
        from llmspec.kinds.drift import alias_drift

        return alias_drift(resource)
