"""A rollout's challenger on the vLLM server the champion answers from (`serving.runtime: vllm`).

The app server holds no weights there: its python models call vLLM by a model name, and the
champion's is its alias's adapter (`LLMSPEC_LLM_MODEL`). A challenger version gets a name of
its own, `<registered name>-v<version>`: its LoRA adapter, downloaded from the registry, is
loaded into the running vLLM server through vLLM's runtime LoRA API
(`POST /v1/load_lora_adapter`, served only with `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`), and
the challenger's model calls that name, so its answers come from its own adapter on the shared
base. A version without an adapter (merged or fully fine-tuned weights), or one tuned on
another base, cannot share it: loading fails with `AdapterLoadError`, and the router keeps the
champion answering.

The adapter stays loaded when the rollout ends: a completed rollout's champion keeps answering
by its version's name, and a rolled-back challenger's adapter idles (vLLM's LoRA cache evicts
the least used) until the model server restarts.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from llmspec.runtime.contracts import EndpointConfig
from llmspec.runtime.model_server import ModelFolders, model_folders

DONE = ".complete"  # a whole download, as `llmspec serve` marks the versions it caches
ALREADY_LOADED = "has already been loaded"  # vLLM's 400 for a name it serves already


class AdapterLoadError(RuntimeError):
    """The challenger cannot answer from the champion's vLLM server."""


def version_adapter(registered_name: str, version: str) -> str:
    """The name vLLM serves a version's adapter by during a rollout: the same in every replica
    (and app server worker), which load it once between them."""
    return f"{registered_name}-v{version}"


def load_challenger(
    name: str, version: str, server: EndpointConfig, champion_folder: Path | None
) -> Any:
    """The app's python model of version ``version`` of ``name``, answering through its own
    adapter on ``server`` (the champion's model server). ``champion_folder`` is the champion's
    downloaded model when this process has one (`llmspec serve`): the challenger is downloaded
    beside it, and its base must be the one vLLM loaded."""
    folder = _download(name, version, champion_folder.parent if champion_folder else None)
    folders = model_folders(folder)
    where = f"version {version} of `{name}`"
    if folders.adapter is None:
        raise AdapterLoadError(
            f"{where} has no LoRA adapter (its weights are merged or fully fine-tuned): it "
            "cannot share the vLLM server's base with the champion, which goes on answering; "
            "roll it out on `runtime: inprocess`, or promote it at once"
        )
    if champion_folder is not None and not _same_base(folders, model_folders(champion_folder)):
        raise AdapterLoadError(
            f"{where} was tuned on another base than the champion's: vLLM cannot host its "
            "adapter beside the champion's, which goes on answering"
        )
    adapter = version_adapter(name, version)
    load_adapter(server.base_url, adapter, folders.adapter)
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(str(folder)).unwrap_python_model()
    from llmspec.runtime.llm import EndpointChat

    timeout = float(os.environ.get("LLMSPEC_LLM_TIMEOUT", 600))
    own = EndpointConfig(server.base_url, adapter, server.api_key)
    model.llm = EndpointChat([own], timeout_s=timeout)  # it loaded the champion's name
    model.adapter = adapter  # its traces name it (`llmspec.adapter`)
    return model


def load_adapter(base_url: str, name: str, path: Path) -> None:
    """Have the vLLM server at ``base_url`` (…/v1) serve the adapter at ``path`` as ``name``;
    nothing to do when it does already (another worker or replica loaded it)."""
    base = base_url.rstrip("/")
    if name in served_models(base):
        return
    body = json.dumps({"lora_name": name, "lora_path": str(path)}).encode()
    request = urllib.request.Request(
        f"{base}/load_lora_adapter", body, {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=300):
            return
    except urllib.error.HTTPError as exc:
        said = exc.read().decode(errors="replace")
        if exc.code == 400 and ALREADY_LOADED in said:  # loaded meanwhile, by another worker
            return
        if exc.code in (404, 405):  # the route exists only with runtime LoRA updating on
            raise AdapterLoadError(
                f"the vLLM server at {base} cannot load adapters at runtime: start it with "
                "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True (and `--enable-lora`)"
            ) from exc
        raise AdapterLoadError(
            f"the vLLM server at {base} did not load adapter `{name}` from {path} "
            f"(HTTP {exc.code}): {_message(said)}"
        ) from exc


def served_models(base_url: str) -> set[str]:
    """The model names the vLLM server at ``base_url`` (…/v1) answers to."""
    with urllib.request.urlopen(f"{base_url.rstrip('/')}/models", timeout=30) as response:
        return {str(m["id"]) for m in json.loads(response.read())["data"]}


def _download(name: str, version: str, beside: Path | None) -> Path:
    """The registered version, downloaded once: beside the champion's when it has a folder
    (where `llmspec serve` looks for it after the rollout), else into a folder of its own. vLLM
    reads the adapter from there for as long as it serves it, so it is not removed."""
    import mlflow

    if beside is None:
        folder = Path(tempfile.mkdtemp(prefix=f"llmspec-{name}-v{version}-"))
    else:
        folder = beside / version
        if (folder / DONE).is_file():
            return folder
        import shutil

        shutil.rmtree(folder, ignore_errors=True)  # a partial download is redone
    mlflow.artifacts.download_artifacts(f"models:/{name}/{version}", dst_path=str(folder))
    (folder / DONE).touch()
    return folder


def _same_base(a: ModelFolders, b: ModelFolders) -> bool:
    """The same base model, by its config (comparing gigabytes of weights is not worth it: an
    adapter on a base of another shape fails to load anyway)."""
    config_a, config_b = a.base / "config.json", b.base / "config.json"
    return (
        config_a.is_file() and config_b.is_file() and config_a.read_bytes() == config_b.read_bytes()
    )


def _message(said: str) -> str:
    try:
        return str(json.loads(said)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return said[:500]
