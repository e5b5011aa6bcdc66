"""The KubeRay manifests of a `backend: ray` fine-tune: a RayJob (with the ConfigMap of its job
file) and a RayCluster, valid against KubeRay's CRD schemas with no field they do not know."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.engine.test_render import kuberay_schema, unknown_fields

SPEC = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata: {name: big-tune}
model: {source: hf, id: HuggingFaceTB/SmolLM2-135M-Instruct}
prompts:
  templates:
    answer: {template: "Q: {{ question }}\\nA:"}
finetune:
  dataset: {train: train.jsonl}
  compute:
    device: cuda
    backend: ray
    image: registry.example.com/big-tune-train:1.0
    namespace: ml
    ray: {workers: 4, cpus_per_worker: 8, gpus_per_worker: 1, storage: "s3://acme-ml/ray"}
tracking: {uri: "http://mlflow.ml.svc:5000"}
environments: {dev: {}}
"""


def render(root: Path) -> dict[str, list[dict]]:
    (root / ".git").mkdir()
    (root / "train.jsonl").write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"},
                                 {"role": "assistant", "content": "hello"}]}) + "\n"
    )  # fmt: skip
    (root / "app.yaml").write_text(SPEC)
    out = root / "out"
    done = subprocess.run(
        [sys.executable, "-m", "llmspec", "render", "app.yaml", "-e", "dev", "--out", str(out)],
        cwd=root,
        # an earlier test's mlflow.set_tracking_uri leaves MLFLOW_TRACKING_URI set, and it wins
        # over the spec's `tracking.uri`
        env={k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return {
        name: list(yaml.safe_load_all((out / "finetune" / f"{name}.yaml").read_text()))
        for name in ("rayjob", "raycluster")
    }


def test_the_rayjob_and_the_raycluster_pass_kuberays_schemas(tmp_path: Path) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    rendered = render(tmp_path)
    config_map, job = rendered["rayjob"]
    (cluster,) = rendered["raycluster"]
    kubernetes_validate.validate(config_map, kubernetes_validate.latest_version(), strict=True)
    for item in (job, cluster):
        schema = kuberay_schema(item["kind"])
        jsonschema.Draft7Validator(schema).validate(item)
        assert unknown_fields(item, schema) == []

    spec = job["spec"]
    assert spec["entrypoint"].startswith(
        "python -m llmspec.runtime.ray_train /etc/llmspec/job.json"
    )
    assert "--storage s3://acme-ml/ray/big-tune/finetune/" in spec["entrypoint"]
    assert 'MLFLOW_TRACKING_URI: "http://mlflow.ml.svc:5000"' in spec["runtimeEnvYAML"]
    assert json.loads(config_map["data"]["job.json"])["compute"]["ray"]["workers"] == 4
    (workers,) = spec["rayClusterSpec"]["workerGroupSpecs"]
    assert workers["replicas"] == workers["minReplicas"] == 4
    (container,) = workers["template"]["spec"]["containers"]
    assert container["resources"]["limits"] == {"cpu": "8", "memory": "8Gi", "nvidia.com/gpu": 1}
    assert container["image"] == "registry.example.com/big-tune-train:1.0"
    assert job["metadata"]["namespace"] == cluster["metadata"]["namespace"] == "ml"
    head = cluster["spec"]["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"  # the head trains nothing
    assert {p["containerPort"] for p in head["template"]["spec"]["containers"][0]["ports"]} == {
        6379, 8265, 10001,
    }  # fmt: skip
