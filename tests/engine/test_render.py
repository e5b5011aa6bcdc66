"""Rendered artifacts: golden files, byte-identical re-renders, and valid manifests."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT

CASES = [
    ("support-bot", "dev"),
    ("support-bot", "prod"),
    ("docs-assistant", "staging"),
    ("ticket-triage", "prod"),
]
GOLDEN = ROOT / "tests" / "golden" / "render"


def render(project: Path, spec: str, env: str, out: Path) -> dict[str, bytes]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmspec",
            "render",
            f"specs/{spec}.yaml",
            "-e",
            env,
            "--out",
            str(out),
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("spec", "env"), CASES, ids=[f"{s}-{e}" for s, e in CASES])
def test_render_is_golden_and_deterministic(
    project: Path, spec: str, env: str, update_golden: bool
) -> None:
    first = render(project, spec, env, project / "out1")
    second = render(project, spec, env, project / "out2")
    assert first == second  # same spec, same bytes
    golden = GOLDEN / spec / env
    if update_golden:  # the folder becomes exactly what was rendered: stale files go
        shutil.rmtree(golden, ignore_errors=True)
        for relative, data in first.items():
            (golden / relative).parent.mkdir(parents=True, exist_ok=True)
            (golden / relative).write_bytes(data)
        return
    expected = {
        str(p.relative_to(golden)): p.read_bytes() for p in sorted(golden.rglob("*")) if p.is_file()
    }
    assert sorted(first) == sorted(expected), "run pytest --update-golden if intended"
    for relative, data in first.items():
        assert data == expected[relative], f"{relative} differs; pytest --update-golden"


def unknown_fields(value: object, schema: dict, where: str = "") -> list[str]:
    """Keys the schema does not name, at any depth (CRD schemas do not reject them: Kubernetes
    prunes them, so a misspelt field would vanish silently)."""
    found: list[str] = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                found.append(f"{where}.{key}")
            else:
                found += unknown_fields(item, schema["properties"][key], f"{where}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{where}[{i}]")
    return found


def kuberay_schema(kind: str) -> dict:
    name = {"RayJob": "rayjob", "RayCluster": "raycluster"}[kind]
    return json.loads((ROOT / f"tests/data/schemas/kuberay-{name}-v1.json").read_text())


def isvc_schema() -> dict:
    return json.loads(
        (ROOT / "tests/data/schemas/kserve-inferenceservice-v1beta1.json").read_text()
    )


def test_every_server_runs_the_app_server_and_vllm_beside_it_in_prod(project: Path) -> None:
    """prod (`runtime: vllm`): the app server calls a vLLM server on the alias's adapter, in
    plain Kubernetes and in KServe; the InferenceServices pass KServe's CRD schema with no
    field it does not know."""
    files = render(project, "support-bot", "prod", project / "out")
    schema = isvc_schema()
    services = list(yaml.safe_load_all(files["deploy/kserve/inferenceservice.yaml"]))
    assert [s["metadata"]["name"] for s in services] == ["support-bot", "support-bot-vllm"]
    for isvc in services:
        jsonschema.Draft7Validator(schema).validate(isvc)
        assert unknown_fields(isvc, schema) == []
    docs = list(yaml.safe_load_all(files["deploy/kubernetes/kubernetes.yaml"]))
    kinds = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert kinds == [
        ("Deployment", "support-bot"),
        ("Service", "support-bot"),
        ("HorizontalPodAutoscaler", "support-bot"),
        ("Deployment", "support-bot-vllm"),
        ("Service", "support-bot-vllm"),
    ]
    for app_pod, vllm_pod, host in [
        (docs[0]["spec"]["template"]["spec"], docs[3]["spec"]["template"]["spec"],
         "support-bot-vllm.support.svc.cluster.local:8000"),
        (services[0]["spec"]["predictor"], services[1]["spec"]["predictor"],
         "support-bot-vllm-predictor.support.svc.cluster.local"),
    ]:  # fmt: skip
        (app,) = app_pod["containers"]
        assert app["command"][:5] == [
            "python", "-m", "uvicorn", "--factory", "llmspec.runtime.server:create_app"
        ]  # fmt: skip
        env = {e["name"]: e.get("value") for e in app["env"]}
        assert env["LLMSPEC_MODEL_URI"] == "models:/support-bot@champion"
        assert env["LLMSPEC_LLM_URL"] == f"http://{host}/v1"
        assert env["LLMSPEC_LLM_MODEL"] == "support-bot-champion"
        assert env["MLFLOW_EXPERIMENT_NAME"] == "llmspec/support-bot/prod"
        assert "nvidia.com/gpu" not in app["resources"]["limits"]  # the GPUs are vLLM's
        (fetch,) = vllm_pod["initContainers"]
        assert fetch["command"][-3:] == [
            "fetch",
            "models:/support-bot@champion",
            "/models/champion",
        ]
        (server,) = vllm_pod["containers"]
        assert server["image"] == "vllm/vllm-openai:v0.32.0"
        args = server["args"]
        assert (
            args[args.index("--lora-modules") + 1]
            == "support-bot-champion=/models/champion/adapter"
        )
        assert args[args.index("--model") + 1] == "/models/champion/base"
        assert server["resources"]["limits"]["nvidia.com/gpu"] == "1"
    everything = b"".join(files.values()).decode()
    assert "mlflow models serve" not in everything and "storageUri" not in everything


def test_staging_hosts_the_champions_adapter_beside_its_own(project: Path) -> None:
    files = render(project, "support-bot", "staging", project / "out")
    docs = list(yaml.safe_load_all(files["deploy/kubernetes/kubernetes.yaml"]))
    pod = docs[3]["spec"]["template"]["spec"]
    fetched = [c["command"][-2:] for c in pod["initContainers"]]
    assert fetched == [
        ["models:/support-bot@challenger", "/models/challenger"],
        ["models:/support-bot@champion", "/models/champion"],
    ]
    args = pod["containers"][0]["args"]
    at = args.index("--lora-modules")
    assert args[at + 1 : at + 3] == [
        "support-bot-challenger=/models/challenger/adapter",
        "support-bot-champion=/models/champion/adapter",
    ]
    (app,) = docs[0]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in app["env"]}
    assert env["LLMSPEC_LLM_MODEL"] == "support-bot-challenger"  # the app asks for its own


def test_dev_serves_in_process_with_no_model_server(project: Path) -> None:
    files = render(project, "support-bot", "dev", project / "out")
    (isvc,) = yaml.safe_load_all(files["deploy/kserve/inferenceservice.yaml"])
    assert unknown_fields(isvc, isvc_schema()) == []
    (app,) = isvc["spec"]["predictor"]["containers"]
    names = {e["name"] for e in app["env"]}
    assert "LLMSPEC_LLM_URL" not in names and app["resources"]["limits"]["nvidia.com/gpu"] == "1"
    kinds = [d["kind"] for d in yaml.safe_load_all(files["deploy/kubernetes/kubernetes.yaml"])]
    assert kinds == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    accelerate = yaml.safe_load(
        render(project, "support-bot", "prod", project / "out2")["finetune/accelerate_config.yaml"]
    )
    assert accelerate["distributed_type"] == "FSDP" and accelerate["num_processes"] == 16


def test_secrets_are_references_in_manifests(project: Path) -> None:
    files = render(project, "docs-assistant", "prod", project / "out")
    build = files["deploy/docker/build.sh"].decode()
    assert "PROVIDER_API_KEY is a secret" in build and "ENV PROVIDER_API_KEY" not in build
    package = json.loads(files["package/model.json"])
    assert package["model"]["api_key"] == "${secret:PROVIDER_API_KEY}"


EVERY = [
    (spec.stem, env)
    for spec in sorted((ROOT / "specs").glob("*.yaml"))
    if spec.stem.count(".") == 0
    for env in ["", *sorted(yaml.safe_load(spec.read_text()).get("environments") or {})]
]


@pytest.mark.parametrize(("spec", "env"), EVERY, ids=[f"{s}-{e or 'base'}" for s, e in EVERY])
def test_every_manifest_of_every_example_validates(
    project: Path, tmp_path: Path, spec: str, env: str
) -> None:
    """Kubernetes objects against the Kubernetes schemas (strict: unknown fields fail), the
    InferenceService against KServe's CRD schema (kubernetes-validate only warns on it)."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    out = tmp_path / "out"  # the project lives in tmp_path too
    args = [sys.executable, "-m", "llmspec", "render", f"specs/{spec}.yaml", "--out", str(out)]
    done = subprocess.run(args + (["-e", env] if env else []), cwd=project, capture_output=True)
    assert done.returncode == 0, done.stderr
    crd = json.loads((ROOT / "tests/data/schemas/kserve-inferenceservice-v1beta1.json").read_text())
    checked = 0
    for path in sorted(out.rglob("*.yaml")):
        if path.name == "accelerate_config.yaml":
            continue
        for item in yaml.safe_load_all(path.read_text()):
            if item.get("kind") == "InferenceService":
                jsonschema.Draft7Validator(crd).validate(item)
                assert unknown_fields(item, crd) == [], path
            elif item.get("kind") in ("RayJob", "RayCluster"):
                schema = kuberay_schema(item["kind"])
                jsonschema.Draft7Validator(schema).validate(item)
                assert unknown_fields(item, schema) == [], path
            else:
                kubernetes_validate.validate(
                    item, kubernetes_validate.latest_version(), strict=True
                )
            checked += 1
    assert checked > 0 or not list(out.rglob("*.yaml"))
