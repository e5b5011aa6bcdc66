"""The fine-tune's digest covers what determines the weights, not where training runs."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest

from llmspec.api import plan, render
from tests.conftest import ROOT

EXAMPLE = ROOT / "specs" / "support-bot.yaml"


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DIGEST_TEST_STATE", f"sqlite:///{tmp_path / 'state.db'}")


def _digest(env: str, overrides: Sequence[str] = ()) -> str:
    found = plan(str(EXAMPLE), env, overrides, state=os.environ["DIGEST_TEST_STATE"])
    (change,) = [c for c in found.changes if c.kind == "finetune"]
    assert change.inputs_digest
    return change.inputs_digest


def test_prod_on_sixteen_gpus_shares_stagings_fine_tune() -> None:
    """The example's prod trains on 2 machines × 8 processes with the global batch staging
    uses on one: it reuses staging's fine-tune (the deploy-model pattern)."""
    assert _digest("prod") == _digest("staging")


@pytest.mark.parametrize(
    "placement",
    [
        ["finetune.compute.strategy=deepspeed-zero3"],
        ["finetune.compute.device=cuda"],
        ["finetune.compute.image=registry.example.com/train:2"],
        # 4 × 2 per device on 4 processes = 8 × 4 on one: the same 32 examples per step
        [
            "finetune.compute.num_processes=4",
            "finetune.training.batch_size=4",
            "finetune.training.gradient_accumulation_steps=2",
        ],
        # 4 Ray workers × 2 per device × 4 accumulated: the same 32 on a Ray cluster
        [
            "finetune.compute.backend=ray",
            "finetune.compute.ray.workers=4",
            "finetune.compute.ray.address=http://ray-head:8265",
            "finetune.training.batch_size=2",
        ],
    ],
)
def test_where_it_runs_is_not_in_the_digest(placement: list[str]) -> None:
    assert _digest("staging", placement) == _digest("staging")


@pytest.mark.parametrize(
    "recipe",
    [
        ["finetune.compute.num_processes=2"],  # 64 examples per step
        ["finetune.compute.backend=ray", "finetune.compute.ray.workers=2"],  # 64 on Ray
        ["finetune.training.gradient_accumulation_steps=8"],
        ["finetune.training.seed=7"],
        ["finetune.compute.mixed_precision=fp16"],
        ["finetune.training.learning_rate=0.001"],
        ["model.revision=0123abcd"],
    ],
)
def test_what_determines_the_weights_is(recipe: list[str]) -> None:
    assert _digest("staging", recipe) != _digest("staging")


def test_the_rendered_job_keeps_the_layout(tmp_path) -> None:
    render(str(EXAMPLE), "prod", out=str(tmp_path))
    accelerate = (tmp_path / "finetune" / "accelerate_config.yaml").read_text(encoding="utf-8")
    assert "num_machines: 2" in accelerate and "num_processes: 16" in accelerate
    job = (tmp_path / "finetune" / "job.json").read_text(encoding="utf-8")
    assert '"batch_size": 2' in job and '"gradient_accumulation_steps": 1' in job
