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


def test_manifests_are_valid(project: Path) -> None:
    files = render(project, "support-bot", "prod", project / "out")
    isvc = yaml.safe_load(files["deploy/kserve/inferenceservice.yaml"])
    schema = json.loads(
        (ROOT / "tests/data/schemas/kserve-inferenceservice-v1beta1.json").read_text()
    )
    jsonschema.Draft7Validator(schema).validate(isvc)
    predictor = schema["properties"]["spec"]["properties"]["predictor"]["properties"]
    assert set(isvc["spec"]["predictor"]) <= set(predictor)  # CRD schemas allow unknown keys
    model = predictor["model"]["properties"]
    assert set(isvc["spec"]["predictor"]["model"]) <= set(model)
    kinds = [d["kind"] for d in yaml.safe_load_all(files["deploy/kubernetes/kubernetes.yaml"])]
    assert kinds == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    accelerate = yaml.safe_load(files["finetune/accelerate_config.yaml"])
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
            else:
                kubernetes_validate.validate(
                    item, kubernetes_validate.latest_version(), strict=True
                )
            checked += 1
    assert checked > 0 or not list(out.rglob("*.yaml"))
