"""KubeRay manifests of a `backend: ray` fine-tune, built as data: a RayJob that brings up its
own cluster, runs `llmspec.runtime.ray_train` and shuts the cluster down (`rayjob.yaml`, with
the ConfigMap holding the job file), and a standing RayCluster to submit to with `llmspec apply`
(`raycluster.yaml`: its head's dashboard is `compute.ray.address`).

The image carries `llmspec[train,ray]` and the repository (spec and data) at /workspace, as the
Kubernetes Job's does; checkpoints and the model go to `compute.ray.storage` (or the build
store's bucket), which every pod must reach.
"""

from __future__ import annotations

from typing import Any

RAY_VERSION = "2.60.0"  # the Ray the tests run; the image's must match the operator's cluster
WORKDIR = "/workspace"
CONFIG = "/etc/llmspec"


def manifests(cluster: dict[str, Any], ray: dict[str, Any], job_json: str) -> dict[str, Any]:
    """``{"rayjob": [ConfigMap, RayJob], "raycluster": [RayCluster]}`` for ``cluster`` (app,
    name, image, namespace, digest, storage, tracking) and the spec's `compute.ray`."""
    labels = {"app.kubernetes.io/name": cluster["name"], "app.kubernetes.io/managed-by": "llmspec"}
    metadata = {"name": cluster["name"], "namespace": cluster["namespace"], "labels": labels}
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {"job.json": job_json},
    }
    entrypoint = (
        f"python -m llmspec.runtime.ray_train {CONFIG}/job.json --storage {cluster['storage']} "
        f"--name train --workdir {WORKDIR}"
    )
    job = {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {
            **metadata,
            "annotations": {"llmspec.dev/inputs-digest": cluster["digest"]},
        },
        "spec": {
            "entrypoint": entrypoint,
            "entrypointNumCpus": 0,  # the driver waits on the workers: it holds no CPU slot
            "runtimeEnvYAML": _runtime_env(cluster),
            "submissionMode": "K8sJobMode",
            "shutdownAfterJobFinishes": True,
            "ttlSecondsAfterFinished": 600,
            "backoffLimit": 2,  # a new attempt resumes from the checkpoints in the storage
            "rayClusterSpec": _cluster_spec(cluster, ray, with_config=True),
        },
    }
    standing = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {**metadata, "name": f"{cluster['app']}-ray"},
        "spec": _cluster_spec(cluster, ray, with_config=False),
    }
    return {"rayjob": [config_map, job], "raycluster": [standing]}


def _runtime_env(cluster: dict[str, Any]) -> str:
    lines = ["env_vars:", "  TOKENIZERS_PARALLELISM: \"false\"",
             "  RAY_TRAIN_ENABLE_PRINT_PATCH: \"0\""]  # fmt: skip
    if cluster.get("tracking"):
        lines.append(f'  MLFLOW_TRACKING_URI: "{cluster["tracking"]}"')
    return "\n".join(lines) + "\n"


def _cluster_spec(cluster: dict[str, Any], ray: dict[str, Any], with_config: bool) -> Any:
    volumes = [{"name": "llmspec", "configMap": {"name": cluster["name"]}}] if with_config else []
    mounts = [{"name": "llmspec", "mountPath": CONFIG}] if with_config else []
    cpus = ray["cpus_per_worker"]
    limits: dict[str, Any] = {"cpu": _quantity(cpus), "memory": "8Gi"}
    if ray["gpus_per_worker"]:
        limits["nvidia.com/gpu"] = int(ray["gpus_per_worker"])

    def pod(name: str, resources: dict[str, Any], ports: list[dict[str, Any]]) -> Any:
        container: dict[str, Any] = {
            "name": name,
            "image": cluster["image"],
            "workingDir": WORKDIR,
            "resources": {"requests": dict(resources), "limits": dict(resources)},
        }
        if mounts:
            container["volumeMounts"] = [dict(m) for m in mounts]
        if ports:
            container["ports"] = ports
        spec: dict[str, Any] = {"containers": [container]}
        if volumes:
            spec["volumes"] = [dict(v) for v in volumes]
        return {"spec": spec}

    head_ports = [
        {"name": "gcs", "containerPort": 6379},
        {"name": "dashboard", "containerPort": 8265},
        {"name": "client", "containerPort": 10001},
    ]
    return {
        "rayVersion": RAY_VERSION,
        "headGroupSpec": {
            # the head schedules no training: every worker slot is a training process
            "rayStartParams": {"dashboard-host": "0.0.0.0", "num-cpus": "0"},
            "template": pod("ray-head", {"cpu": "1", "memory": "4Gi"}, head_ports),
        },
        "workerGroupSpecs": [
            {
                "groupName": "train",
                "replicas": ray["workers"],
                "minReplicas": ray["workers"],
                "maxReplicas": ray["workers"],
                "rayStartParams": {},  # Ray counts the container's CPUs and GPUs
                "template": pod("ray-worker", limits, []),
            }
        ],
    }


def _quantity(cpus: float) -> str:
    return str(int(cpus)) if float(cpus).is_integer() else f"{int(cpus * 1000)}m"
