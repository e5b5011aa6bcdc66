"""The containers a cluster target runs, as Kubernetes data: the app server (what `llmspec serve`
runs: MLflow's routes, the OpenAI routes, traces, feedback, /metrics) and, for
`serving.runtime: vllm`, the vLLM model server it calls, whose pod first fetches the registered
model (`runtime/model_server.py fetch`) into a volume it serves from. The templates lay these
out in a Deployment or an InferenceService; the docker target's image is what they run.
"""

from __future__ import annotations

from typing import Any

from llmspec.runtime.model_server import BASE_NAME, adapter_name, server_args

APP_PORT = 8080  # the image's port (MLflow's scoring server used it too)
VLLM_PORT = 8000
MODELS = "/models"  # where the fetched model lies in the vLLM pod
APP_SERVER = ["python", "-m", "uvicorn", "--factory", "llmspec.runtime.server:create_app"]
VLLM_SERVER = ["python3", "-m", "vllm.entrypoints.openai.api_server"]
FETCH = ["python", "-m", "llmspec.runtime.model_server", "fetch"]
SCRAPE = {"prometheus.io/scrape": "true", "prometheus.io/path": "/metrics"}


def secret(target: dict[str, Any], key: str) -> dict[str, Any]:
    return {"secretKeyRef": {"name": f"{target['app']}-secrets", "key": key}}


def image(target: dict[str, Any]) -> str:
    return str(target.get("image") or f"{target['app']}:latest")


def vllm_url(target: dict[str, Any]) -> str:
    """Where the app reaches the vLLM pods: their Service, or KServe's `-predictor` one."""
    ns = target["namespace"]
    if target["kind"] == "kserve":
        return f"http://{target['app']}-vllm-predictor.{ns}.svc.cluster.local/v1"
    return f"http://{target['app']}-vllm.{ns}.svc.cluster.local:{VLLM_PORT}/v1"


def app_container(
    target: dict[str, Any], model_uri: str, env: list[dict[str, Any]], port: int
) -> dict[str, Any]:
    """The app server on the registry alias; it resolves the alias to a version at start."""
    name = target["registered_name"]
    entries: list[dict[str, Any]] = [
        {"name": "LLMSPEC_MODEL_URI", "value": model_uri},
        {"name": "LLMSPEC_SERVED_NAME", "value": name},
        {"name": "MLFLOW_TRACKING_URI", "valueFrom": secret(target, "MLFLOW_TRACKING_URI")},
    ]
    if target["log_traces"]:
        entries += [
            {"name": "LLMSPEC_TRACE", "value": "1"},
            {"name": "LLMSPEC_ENV", "value": target["environment"]},
            {"name": "MLFLOW_EXPERIMENT_NAME", "value": target["experiment"]},
        ]
    if target.get("traffic") == "kserve":  # KServe's canary splits; the app server must not
        entries.append({"name": "LLMSPEC_ROLLOUT_ROUTING", "value": "off"})
    if target["runtime"] == "vllm":
        entries += [
            {"name": "LLMSPEC_LLM_URL", "value": vllm_url(target)},
            {"name": "LLMSPEC_LLM_MODEL", "value": served_model(target)},
        ]
    resources = target["resources"]
    container: dict[str, Any] = {
        "name": "app-server",
        "image": image(target),
        "command": [*APP_SERVER, "--host", "0.0.0.0", "--port", str(port)],
        "ports": [{"containerPort": port, "name": "http", "protocol": "TCP"}],
        "env": entries + env,
        "resources": {
            "requests": {"cpu": str(resources["cpu"]), "memory": str(resources["memory"])},
            "limits": {"memory": str(resources["memory"])},
        },
        "readinessProbe": {"httpGet": {"path": "/ping", "port": port}},
    }
    if resources["gpu"] and target["runtime"] != "vllm":  # with vLLM, its pod has the GPUs
        container["resources"]["limits"]["nvidia.com/gpu"] = str(resources["gpu"])
    return container


def served_model(target: dict[str, Any]) -> str:
    """The model name the app asks vLLM for: the alias's adapter, or the base weights."""
    if target["adapter"]:
        return adapter_name(target["registered_name"], target["alias"])
    return BASE_NAME


def vllm_pod(target: dict[str, Any], model_uri: str) -> dict[str, Any]:
    """initContainers, containers and volumes of the vLLM model server's pod: one fetch step
    per alias it hosts (the target's, then `vllm.aliases`), each into /models/<alias>."""
    vllm = target["vllm"]
    own = target["alias"]
    others = [a for a in vllm["aliases"] if a != own]

    def fetched(alias: str) -> str:
        return f"{MODELS}/{alias}"

    adapters = {served_model(target): f"{fetched(own)}/adapter"} if target["adapter"] else {}
    if target["adapter"]:
        for alias in others:
            adapters[adapter_name(target["registered_name"], alias)] = f"{fetched(alias)}/adapter"
    args = server_args(
        f"{fetched(own)}/base",
        adapters,
        host="0.0.0.0",
        port=VLLM_PORT,
        max_loras=vllm["max_loras"],
        max_lora_rank=vllm["max_lora_rank"],
        max_model_len=vllm["max_model_len"] or target["context_window"],
        extra=vllm["args"],
    )

    def mount() -> list[dict[str, str]]:  # one list each: YAML would alias a shared one
        return [{"name": "models", "mountPath": MODELS}]

    tracking = {"name": "MLFLOW_TRACKING_URI", "valueFrom": secret(target, "MLFLOW_TRACKING_URI")}
    uris = [(own, model_uri)] + [
        (alias, f"models:/{target['registered_name']}@{alias}")
        for alias in (others if target["adapter"] else [])
    ]
    fetches = [
        {
            "name": "fetch-model" if alias == own else f"fetch-{alias.lower().replace('_', '-')}",
            "image": image(target),  # the app's image: MLflow and llmspec's runtime
            "command": [*FETCH, uri, fetched(alias)],
            "env": [dict(tracking)],
            "volumeMounts": mount(),
        }
        for alias, uri in uris
    ]
    limits: dict[str, Any] = {"memory": str(target["resources"]["memory"])}
    if vllm["gpu"]:
        limits["nvidia.com/gpu"] = str(vllm["gpu"])
    server = {
        "name": "vllm",
        "image": vllm["image"],
        "command": VLLM_SERVER,
        "args": args,
        "ports": [{"containerPort": VLLM_PORT, "name": "http", "protocol": "TCP"}],
        "resources": {"requests": {"memory": str(target["resources"]["memory"])}, "limits": limits},
        "readinessProbe": {"httpGet": {"path": "/health", "port": VLLM_PORT}, "periodSeconds": 10},
        "volumeMounts": mount(),
    }
    return {
        "initContainers": fetches,
        "containers": [server],
        "volumes": [{"name": "models", "emptyDir": {}}],
    }
