"""Load a base model (and optionally a LoRA adapter) and generate answers in batches."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

DTYPES = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}


def pick_device(requested: str = "auto") -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


class Generator:
    """A causal LM ready to answer: base weights, plus the adapter when one is given."""

    def __init__(
        self,
        base: Path,
        adapter: Path | None = None,
        *,
        dtype: str = "auto",
        device: str = "auto",
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from llmspec.runtime.embedding import quiet_libraries

        quiet_libraries()
        self.device = pick_device(device)
        # the adapter folder carries the tokenizer it was trained with
        self.tokenizer = AutoTokenizer.from_pretrained(adapter or base)
        self.tokenizer.padding_side = "left"  # generation continues each prompt's last token
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if dtype in DTYPES:
            torch_dtype: Any = getattr(torch, DTYPES[dtype])
        else:  # half precision only where it is fast
            torch_dtype = torch.float32 if self.device == "cpu" else "auto"
        model: Any = AutoModelForCausalLM.from_pretrained(base, dtype=torch_dtype)
        if adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter)
        self.model = model.to(self.device).eval()

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        top_p: float = 1.0,
        repetition_penalty: float = 1.0,
        batch_size: int = 8,
    ) -> list[str]:
        import torch

        answers: list[str] = []
        sampling = temperature > 0
        for start in range(0, len(prompts), batch_size):
            batch = list(prompts[start : start + batch_size])
            encoded = self.tokenizer(
                batch, return_tensors="pt", padding=True, add_special_tokens=False
            ).to(self.device)
            with torch.no_grad():
                out = self.model.generate(
                    **encoded,
                    max_new_tokens=max_new_tokens,
                    do_sample=sampling,
                    temperature=temperature if sampling else None,
                    top_p=top_p if sampling else None,
                    top_k=None,
                    repetition_penalty=repetition_penalty,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
            width = encoded["input_ids"].shape[1]
            answers.extend(
                str(self.tokenizer.decode(row[width:], skip_special_tokens=True)).strip()
                for row in out
            )
        return answers
