"""`deploy.<target>`: serving manifests (Kubernetes, KServe), the image build (MLflow's
Dockerfile generator, then the app server as its entrypoint), the local server's command, the
PySpark batch-inference job and the Ray one (`ray job submit` of `runtime/ray_predict.py`).
Every server target runs the same app server as `llmspec serve`; with `serving.runtime: vllm`,
the cluster targets add vLLM's model server (`pods.py`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from llmspec.core.secrets import SecretRef
from llmspec.engine.render import render_template
from llmspec.engine.step import (
    DEFAULT_ENV,
    DeclareContext,
    Resource,
    ResourceDecl,
    RunContext,
    Step,
)
from llmspec.integrations.mlflow import experiment_name
from llmspec.kinds.deploy.pods import APP_PORT, SCRAPE, VLLM_PORT, app_container, vllm_pod
from llmspec.plans.address import Address
from llmspec.spec import Spec

TEMPLATES = {
    "kubernetes": "kubernetes.yaml.j2",
    "kserve": "inferenceservice.yaml.j2",
    "docker": "docker-build.sh.j2",
    "mlflow": "mlflow-serve.sh.j2",
    "spark": "spark-predict.py.j2",
    "ray": "ray-predict.sh.j2",
}
FILE_NAMES = {
    "kubernetes": "kubernetes.yaml",
    "kserve": "inferenceservice.yaml",
    "docker": "build.sh",
    "mlflow": "serve.sh",
    "spark": "predict.py",
    "ray": "predict.sh",
}


class DeployStep(Step):
    kind = "deploy"
    templates = tuple(TEMPLATES.values())

    def declare(self, ctx: DeclareContext) -> Iterator[ResourceDecl]:
        spec = ctx.spec
        app = spec.metadata.name
        registry = spec.serving.registry
        dep = Address.promote(app, registry.alias) if registry else Address.package(app)
        counts = Counter(t.kind for t in spec.serving.targets)
        seen: Counter[str] = Counter()
        for target in spec.serving.targets:
            seen[target.kind] += 1
            name = target.kind if counts[target.kind] == 1 else f"{target.kind}-{seen[target.kind]}"
            # a default `traffic` stays out, so that its arrival changed no digest
            quiet = {"traffic"} if getattr(target, "traffic", None) == "app" else set()
            config = {
                **target.model_dump(mode="json", exclude={"namespace", "host", *quiet}),
                "template": TEMPLATES[target.kind],
            }
            if target.kind in SERVERS:  # what generates shapes what they run
                config["runtime"] = spec.serving.runtime
                if spec.serving.runtime == "vllm":
                    config["vllm"] = spec.serving.vllm.model_dump(
                        mode="json", exclude={"python", "port"}
                    )
            where = target.model_dump(mode="json", include={"namespace", "host"})
            settings = {
                **where,
                "app": app,
                "registered_name": spec.registered_name,
                "alias": registry.alias if registry else None,
                "labels": dict(spec.metadata.labels),
            }
            if target.kind == "spark":  # the model's input columns
                settings["inputs"] = _template_inputs(spec)
            if target.kind in SERVERS:
                env = ctx.env or DEFAULT_ENV
                settings |= {
                    "environment": env,
                    "experiment": experiment_name(spec, app, env),
                    "log_traces": spec.serving.monitoring.log_traces,
                    "adapter": _has_adapter(spec),
                    "context_window": _context_window(spec),
                }
            # after, not deps: manifests name the registry alias, not a version, so promoting a
            # new version does not change them
            yield ResourceDecl(self.kind, name, config, (), (), (str(dep),), settings=settings)

    def render(self, resource: Resource, spec: Spec) -> dict[str, str]:
        return render_target(resource)

    def run(self, resource: Resource, ctx: RunContext) -> dict[str, Any]:
        # the manifests are the deployment: the engine writes and records what render() made
        return {}

    def destroy(self, resource: Any, ctx: RunContext) -> bool:
        for relative in resource.outputs.get("rendered", {}):
            (ctx.build_dir / relative).unlink(missing_ok=True)
        return True


def render_target(
    resource: Resource, version: str | None = None, canary: int | None = None
) -> dict[str, str]:
    """The target's files; with ``version`` (a rollout on KServe's canary), the
    InferenceService pinned to that version with ``canary`` percent of the traffic."""
    kind = resource.config["kind"]
    target = {**resource.config, **resource.settings}
    env, model_uri = _env_vars(target), _model_uri(target)
    if version is not None:
        model_uri = f"models:/{target['registered_name']}/{version}"
    pods: dict[str, Any] = {}
    if kind in ("kubernetes", "kserve"):
        port = target["port"] if kind == "kubernetes" else APP_PORT
        pods["app"] = app_container(target, model_uri, env, port)
        if target["runtime"] == "vllm":
            pods["vllm"] = vllm_pod(target, model_uri)
    text = render_template(
        TEMPLATES[kind],
        target=target,
        env=env,
        model_uri=model_uri,
        digest=resource.inputs_digest,
        pods=pods,
        scrape=SCRAPE,
        vllm_port=VLLM_PORT,
        canary=canary,
    )
    name = FILE_NAMES[kind] if version is None else CANARY_FILE
    return {f"deploy/{resource.name}/{name}": text}


CANARY_FILE = "inferenceservice-canary.yaml"


SERVERS = ("kubernetes", "kserve", "docker", "mlflow")


def _has_adapter(spec: Spec) -> bool:
    tune = spec.finetune
    return tune is not None and tune.method != "full" and not tune.merge_adapter


def _context_window(spec: Spec) -> int | None:
    from llmspec.spec.catalog import BUILTIN_MODELS

    model = spec.model
    if model.source == "builtin":
        return BUILTIN_MODELS[model.id].context_window
    declared = getattr(model, "context_window", None)
    return int(declared) if declared else None


def _template_inputs(spec: Spec) -> list[str]:
    from llmspec.kinds.package.settings import prompt_config

    return list(prompt_config(spec.prompts.model_dump(mode="json")).inputs)


def _model_uri(target: dict[str, Any]) -> str:
    if target.get("storage_uri"):
        return str(target["storage_uri"])
    name = target["registered_name"]
    alias = target["alias"]
    return f"models:/{name}@{alias}" if alias else f"models:/{name}/latest"


def _env_vars(target: dict[str, Any]) -> list[dict[str, Any]]:
    """Container env entries: plain values inline, secrets as secretKeyRef (never the value)."""
    out: list[dict[str, Any]] = []
    for name, value in sorted(target.get("env", {}).items()):
        text = str(value)
        if text.startswith("${secret:"):
            secret = SecretRef(text[len("${secret:") : -1])
            out.append(
                {
                    "name": name,
                    "valueFrom": {
                        "secretKeyRef": {"name": f"{target['app']}-secrets", "key": secret.name}
                    },
                }
            )
        else:
            out.append({"name": name, "value": text})
    return out
