"""The built-in `tiny-gpt2`: a small causal LM llmspec creates locally, with no download.

Its byte-level BPE tokenizer is trained on the spec's own texts (training records, eval
questions, corpus) and its weights are initialised from a seed, so the same inputs always give
the same folder, byte for byte. Small enough to fine-tune in minutes on a CPU, large enough to
visibly learn. Folders are cached by a digest of what they are built from.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

TINY_GPT2: dict[str, Any] = {"n_layer": 2, "n_head": 4, "n_embd": 128, "n_positions": 4096}
VOCAB_SIZE = 4096
SPECIAL = ["<|endoftext|>", "<|pad|>", "<|user|>", "<|assistant|>", "<|system|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|endoftext|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def builtin_digest(model_id: str, seed: int, texts: Iterable[str]) -> str:
    sha = hashlib.sha256(f"{model_id}\0{seed}\0{json.dumps(TINY_GPT2, sort_keys=True)}".encode())
    for text in texts:
        sha.update(b"\0" + text.encode("utf-8"))
    return sha.hexdigest()[:24]


def build_tiny_gpt2(texts: list[str], seed: int, cache_dir: Path) -> Path:
    """The model folder (config, weights, tokenizer) for these texts and seed; built once."""
    folder = cache_dir / f"tiny-gpt2-{builtin_digest('tiny-gpt2', seed, texts)}"
    if (folder / "model.safetensors").is_file():
        return folder
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts or [" "], trainer=trainer)
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer,
        eos_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        pad_token="<|pad|>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(fast),
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        **TINY_GPT2,
    )
    model = GPT2LMHeadModel(config)
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tiny-gpt2-", dir=cache_dir))
    try:
        model.save_pretrained(staging)
        fast.save_pretrained(staging)
        os.replace(staging, folder)  # complete or absent: never a half-written model
    except OSError:
        if not (folder / "model.safetensors").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def parameters(folder: Path) -> dict[str, Any]:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return {k: config[k] for k in ("n_layer", "n_head", "n_embd", "n_positions", "vocab_size")}
