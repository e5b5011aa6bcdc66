"""`package.<app>`: prompts + retrieval client + model (+ adapter) as one MLflow pyfunc model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmspec.engine.render import to_json
from llmspec.engine.step import (
    DeclareContext,
    Drift,
    Resource,
    ResourceDecl,
    RunContext,
    Step,
)
from llmspec.plans.address import Address
from llmspec.spec import Spec
from llmspec.state.model import ResourceState


class PackageStep(Step):
    kind = "package"
    reusable = True

    def declare(self, ctx: DeclareContext) -> Iterator[ResourceDecl]:
        spec = ctx.spec
        app = spec.metadata.name
        deps = []
        config: dict[str, object] = {
            "model": spec.model.model_dump(mode="json"),
            "prompts": spec.prompts.model_dump(mode="json"),
            "limits": spec.serving.limits.model_dump(mode="json"),
            "tracing": spec.serving.monitoring.model_dump(
                mode="json", exclude={"alerts", "judges"}
            ),
            "card": spec.metadata.card.model_dump(mode="json") if spec.metadata.card else None,
        }
        if spec.retrieval is not None:
            deps.append(str(Address.index(spec.retrieval.store.table)))
            config["retrieval"] = {
                "top_k": spec.retrieval.top_k,
                "reranker": spec.retrieval.reranker,
            }
        if spec.finetune is not None:
            deps.append(str(Address.tuned(app, spec.finetune.preference is not None)))
        settings = {"registered_name": spec.registered_name}
        yield ResourceDecl(self.kind, app, config, (), tuple(deps), settings=settings)

    def render(self, resource: Resource, spec: Spec) -> dict[str, str]:
        model = {
            "resource": resource.address,
            "inputs_digest": resource.inputs_digest,
            "depends_on": dict(resource.dep_digests),
            **resource.config,
            "registered_name": resource.settings["registered_name"],
        }
        return {"package/model.json": to_json(model) + "\n"}

    def run(self, resource: Resource, ctx: RunContext) -> dict[str, Any]:
        from llmspec.kinds.package.log import package_model

        return package_model(resource, ctx)

    def refresh(self, resource: ResourceState, ctx: RunContext) -> list[Drift]:
        from llmspec.kinds.drift import version_drift

        return version_drift(resource)
