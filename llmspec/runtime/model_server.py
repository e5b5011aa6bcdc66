"""The vLLM model server of `serving.runtime: vllm`: which folders of a packaged model it serves,
the arguments of vLLM's OpenAI server for them, and the step that lays a registered model out
for a cluster's vLLM pod:

    python -m llmspec.runtime.model_server fetch models:/NAME@ALIAS DIR

downloads the model from the registry (`MLFLOW_TRACKING_URI`) and links DIR/base (the base or
merged weights) and DIR/adapter (the LoRA adapter, when there is one): the paths the rendered
vLLM container serves. The base serves as `base`; an adapter by the name `adapter_name` gives,
which the app server asks for (`LLMSPEC_LLM_MODEL`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

BASE_NAME = "base"  # the name the base model is served by


@dataclass(frozen=True)
class ModelFolders:
    base: Path  # base or merged weights
    adapter: Path | None  # the LoRA adapter, when the model has one
    app: Path  # app.json


def adapter_name(registered_name: str, alias: str) -> str:
    """The name vLLM serves an alias's adapter by: stable across versions, so manifests and a
    running app server keep naming it when the alias moves."""
    return f"{registered_name}-{alias}"


def model_folders(model_dir: Path) -> ModelFolders:
    """The weight folders of a downloaded pyfunc model, as its MLmodel names its artifacts."""
    import yaml

    mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8"))
    artifacts = mlmodel["flavors"]["python_function"].get("artifacts") or {}
    if "model" not in artifacts:
        raise ValueError(f"{model_dir} has no model weights (an endpoint model is not served)")
    adapter = artifacts.get("adapter")
    return ModelFolders(
        model_dir / artifacts["model"]["path"],
        model_dir / adapter["path"] if adapter else None,
        model_dir / artifacts["app"]["path"],
    )


def server_args(
    base: str,
    adapters: Mapping[str, str],
    *,
    host: str,
    port: int,
    max_loras: int,
    max_lora_rank: int,
    max_model_len: int | None,
    extra: Sequence[str] = (),
) -> list[str]:
    """Arguments of `python -m vllm.entrypoints.openai.api_server` (its `vllm` command looks up
    a distribution named `vllm`, which the CPU build is not)."""
    args = ["--model", base, "--served-model-name", BASE_NAME, "--host", host, "--port", str(port)]
    if max_model_len:
        args += ["--max-model-len", str(max_model_len)]
    if adapters:
        args += ["--enable-lora", "--max-loras", str(max(max_loras, len(adapters)))]
        args += ["--max-lora-rank", str(max_lora_rank), "--lora-modules"]
        args += [f"{name}={path}" for name, path in adapters.items()]
    return args + list(extra)


def fetch(model_uri: str, target: Path) -> ModelFolders:
    """Download ``model_uri`` under ``target`` and link ``target``/base and /adapter to its
    folders."""
    import mlflow

    target.mkdir(parents=True, exist_ok=True)
    local = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=str(target / "model")))
    folders = model_folders(local)
    for link, folder in (("base", folders.base), ("adapter", folders.adapter)):
        path = target / link
        path.unlink(missing_ok=True)
        if folder is not None:
            path.symlink_to(folder.resolve(), target_is_directory=True)
    return folders


def main(argv: Sequence[str]) -> int:
    if len(argv) != 3 or argv[0] != "fetch":
        print("usage: python -m llmspec.runtime.model_server fetch MODEL_URI DIR", file=sys.stderr)
        return 2
    folders = fetch(argv[1], Path(argv[2]))
    print(f"base: {folders.base}\nadapter: {folders.adapter or '-'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
