"""A spec that asks for Ray where it is not installed, or names no cluster: the plan says so,
and apply stops with the install command (or the address to set) before anything is trained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmspec.api import plan, resolve
from llmspec.engine.apply import apply
from llmspec.engine.workspace import open_workspace
from llmspec.integrations import ray as cluster

pytest.importorskip("peft")

SPEC = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata: {name: no-ray}
model: {source: builtin, id: tiny-gpt2}
prompts:
  templates:
    answer: {template: "Q: {{ question }}\\nA:"}
finetune:
  dataset: {train: train.jsonl, validation_split: 0.0}
  training: {max_steps: 2, batch_size: 2}
  compute: {device: cpu, backend: ray, ray: {workers: 2}}
environments: {dev: {}}
"""


def project(root: Path) -> Path:
    (root / ".git").mkdir()
    record = (
        '{"messages": [{"role": "user", "content": "hi"}, '
        '{"role": "assistant", "content": "hello"}]}'
    )
    (root / "train.jsonl").write_text((record + "\n") * 4)
    (root / "app.yaml").write_text(SPEC)
    return root / "app.yaml"


def _finetune(result: Any) -> Any:
    return next(o for o in result.outcomes if o.address == "finetune.no-ray")


def test_ray_not_installed_is_in_the_plan_and_stops_apply_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "ray_missing", lambda: True)
    spec = project(tmp_path)
    planned = plan(spec, "dev", targets=["finetune.no-ray"])
    ws = open_workspace(resolve(spec, "dev", []))
    (change,) = [c for c in planned.changes if c.address == "finetune.no-ray"]
    assert "Ray is not installed (`pip install 'llmspec[ray]'`)" in (change.estimate or "")
    result = apply(ws, targets=["finetune.no-ray"])
    (diagnostic,) = _finetune(result).diagnostics
    assert diagnostic.code == "LS740"
    assert "pip install 'llmspec[ray]'" in (diagnostic.hint or "")
    assert not list((tmp_path / ".llmspec" / "artifacts").glob("no-ray/finetune/*/model"))


def test_no_cluster_address_is_a_diagnostic_naming_both_ways_to_give_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    ws = open_workspace(resolve(project(tmp_path), "dev", []))
    result = apply(ws, targets=["finetune.no-ray"])
    (diagnostic,) = _finetune(result).diagnostics
    assert diagnostic.code == "LS741"
    assert "compute.ray.address" in (diagnostic.hint or "") and "RAY_ADDRESS" in diagnostic.hint


def test_ray_with_fsdp_is_refused_at_validation_rather_than_run_as_ddp(tmp_path: Path) -> None:
    from llmspec.core.diagnostics import SpecError

    spec = project(tmp_path)
    spec.write_text(SPEC.replace("backend: ray,", "backend: ray, strategy: fsdp,"))
    with pytest.raises(SpecError) as raised:
        resolve(spec, "dev", [])
    (diagnostic,) = raised.value.diagnostics
    assert "`backend: ray` trains with DDP" in diagnostic.message
    assert diagnostic.span is not None and diagnostic.span.line == 11  # `compute:`
