"""The rendered Accelerate config loads with Accelerate's own loader, for every strategy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmspec.render import render_template
from llmspec.steps.finetune import accelerate_settings

BASE: dict[str, Any] = {
    "device": "auto",
    "mixed_precision": "bf16",
    "num_processes": 1,
    "num_machines": 1,
    "strategy": "ddp",
    "fsdp": {
        "wrap_policy": "transformer",
        "min_num_params": 100_000_000,
        "sharding": "full",
        "cpu_offload": False,
    },
    "deepspeed": {"offload_optimizer": "none", "offload_params": "none"},
}
CASES = {
    "cpu": ({"device": "cpu", "mixed_precision": "no"}, "NO", 1),
    "ddp-8-gpus-x-2-machines": ({"num_processes": 8, "num_machines": 2}, "MULTI_GPU", 16),
    "fsdp": ({"num_processes": 8, "strategy": "fsdp"}, "FSDP", 8),
    "deepspeed-zero3": ({"num_processes": 8, "strategy": "deepspeed-zero3"}, "DEEPSPEED", 8),
}


@pytest.mark.parametrize(("changes", "distributed", "processes"), CASES.values(), ids=CASES)
def test_accelerate_loads_the_rendered_config(
    tmp_path: Path, changes: dict[str, Any], distributed: str, processes: int
) -> None:
    config_args = pytest.importorskip("accelerate.commands.config.config_args")
    compute = {**BASE, **changes}
    text = render_template(
        "accelerate_config.yaml.j2", compute=compute, accelerate=accelerate_settings(compute, 4)
    )
    if distributed == "NO":
        assert "distributed_type: 'NO'" in text  # unquoted, YAML 1.1 readers see `false`
    path = tmp_path / "accelerate_config.yaml"
    path.write_text(text)
    loaded = config_args.load_config_from_file(str(path))
    assert loaded.distributed_type.value == distributed
    assert loaded.num_processes == processes
    assert loaded.mixed_precision == compute["mixed_precision"]
