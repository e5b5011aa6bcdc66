"""The rendered Accelerate config loads with Accelerate's own loader, for every strategy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmspec.engine.render import render_template
from llmspec.kinds.finetune.step import accelerate_settings

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


@pytest.mark.parametrize(
    ("changes", "pods"),
    [({"device": "cpu", "mixed_precision": "no"}, 1), ({"num_processes": 8, "num_machines": 2}, 2)],
    ids=["one-cpu-pod", "2-machines-x-8-gpus"],
)
def test_the_kubernetes_job_validates_and_launches_each_machine_rank(
    changes: dict[str, Any], pods: int
) -> None:
    """The rendered Job passes the Kubernetes schemas (strict: no unknown fields), and each pod
    runs `accelerate launch` with the rendered config and its own machine rank."""
    import yaml

    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    compute = {**BASE, **changes}
    config = render_template(
        "accelerate_config.yaml.j2", compute=compute, accelerate=accelerate_settings(compute, 1)
    )
    cluster = {
        "app": "support-bot",
        "name": "support-bot-finetune",
        "image": "registry.example.com/support-bot-train:1.4",
        "namespace": "ml",
        "digest": "0123456789ab",
        "gpus": 0 if compute["device"] == "cpu" else compute["num_processes"],
    }
    text = render_template(
        "finetune-job.yaml.j2",
        compute=compute,
        cluster=cluster,
        files={"accelerate_config.yaml": config, "job.json": '{"method": "lora"}\n'},
    )
    objects = [o for o in yaml.safe_load_all(text) if o]
    for item in objects:
        kubernetes_validate.validate(item, kubernetes_validate.latest_version(), strict=True)
    kinds = {o["kind"]: o for o in objects}
    assert ("Service" in kinds) == (pods > 1)  # rank 0's stable address, multi-node only
    job = kinds["Job"]["spec"]
    assert job["completions"] == job["parallelism"] == pods
    (container,) = job["template"]["spec"]["containers"]
    args = container["args"]
    assert container["command"] == ["accelerate", "launch"]
    assert args[:2] == ["--config_file", "/etc/llmspec/accelerate_config.yaml"]
    assert args[-5:] == [
        "-m",
        "llmspec.runtime.train",
        "/etc/llmspec/job.json",
        "--output",
        "/output",
    ]
    if pods > 1:
        assert args[args.index("--machine_rank") + 1] == "$(JOB_COMPLETION_INDEX)"
        assert (
            args[args.index("--main_process_ip") + 1]
            == "support-bot-finetune-0.support-bot-finetune"
        )
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 8
    # the mounted files are the rendered ones, byte for byte
    data = kinds["ConfigMap"]["data"]
    assert data["accelerate_config.yaml"].rstrip("\n") == config.rstrip("\n")
    loaded = yaml.safe_load(data["accelerate_config.yaml"])
    assert loaded["num_machines"] == compute["num_machines"]
