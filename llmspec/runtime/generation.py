"""Load a base model (and optionally a LoRA adapter) and generate answers in batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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

    def _decoding(
        self, max_new_tokens: int, temperature: float, top_p: float, repetition_penalty: float
    ) -> dict[str, Any]:
        sampling = temperature > 0
        return {
            "max_new_tokens": max_new_tokens,
            "do_sample": sampling,
            "temperature": temperature if sampling else None,
            "top_p": top_p if sampling else None,
            "top_k": None,
            "repetition_penalty": repetition_penalty,
            "pad_token_id": self.tokenizer.pad_token_id,
        }

    def stream(
        self,
        prompt: str,
        *,
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        top_p: float = 1.0,
        repetition_penalty: float = 1.0,
    ) -> Iterator[str]:
        """The answer to one prompt, piece by piece as it is decoded (generation runs in a
        thread; transformers' streamer hands the text over)."""
        import threading

        import torch
        from transformers import TextIteratorStreamer

        encoded = self.tokenizer([prompt], return_tensors="pt", add_special_tokens=False).to(
            self.device
        )
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600
        )
        decoding = self._decoding(max_new_tokens, temperature, top_p, repetition_penalty)
        failed: list[BaseException] = []

        def run() -> None:
            try:
                with torch.no_grad():
                    self.model.generate(**encoded, **decoding, streamer=streamer)
            except BaseException as exc:  # handed to the reader, which re-raises it
                failed.append(exc)
                streamer.end()  # type: ignore[no-untyped-call]

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        for piece in streamer:
            if piece:
                yield piece
        thread.join()
        if failed:
            raise failed[0]

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
        decoding = self._decoding(max_new_tokens, temperature, top_p, repetition_penalty)
        for start in range(0, len(prompts), batch_size):
            batch = list(prompts[start : start + batch_size])
            encoded = self.tokenizer(
                batch, return_tensors="pt", padding=True, add_special_tokens=False
            ).to(self.device)
            with torch.no_grad():
                out = self.model.generate(**encoded, **decoding)
            width = encoded["input_ids"].shape[1]
            answers.extend(
                str(self.tokenizer.decode(row[width:], skip_special_tokens=True)).strip()
                for row in out
            )
        return answers
