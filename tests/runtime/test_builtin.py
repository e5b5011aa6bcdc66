"""The built-in tiny model: built locally, deterministic, loadable, and it generates."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from llmspec.runtime.builtin import build_tiny_gpt2, parameters
from llmspec.spec.catalog import BUILTIN_MODELS

TEXTS = [
    "How do I reset my password?",
    "Open Settings, choose Security, then Reset password.",
    "Invoices are issued on the first day of each month.",
] * 5


def files(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.slow
def test_same_texts_and_seed_give_the_same_bytes(tmp_path: Path) -> None:
    first = build_tiny_gpt2(TEXTS, 0, tmp_path / "a")
    second = build_tiny_gpt2(TEXTS, 0, tmp_path / "b")
    assert files(first) == files(second)
    assert build_tiny_gpt2(TEXTS, 0, tmp_path / "a") == first  # cached
    other = build_tiny_gpt2(TEXTS, 1, tmp_path / "a")
    assert other != first and files(other)["model.safetensors"] != files(first)["model.safetensors"]


@pytest.mark.slow
def test_it_loads_with_transformers_and_generates(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = build_tiny_gpt2(TEXTS, 0, tmp_path)
    assert parameters(folder)["n_positions"] == BUILTIN_MODELS["tiny-gpt2"].context_window
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "reset password?"}], add_generation_prompt=True, tokenize=False
    )
    assert prompt == "<|user|>reset password?<|endoftext|><|assistant|>"
    ids = tokenizer(prompt, return_tensors="pt")
    assert len(tokenizer("password")["input_ids"]) <= 2  # the vocabulary learned the texts
    torch.manual_seed(0)
    out = model.generate(
        **ids, max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id
    )
    assert out.shape[1] == ids["input_ids"].shape[1] + 5
