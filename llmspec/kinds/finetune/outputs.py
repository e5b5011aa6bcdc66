"""What a `finetune.<app>` resource records: the MLflow run, the trained folders (relative to
the repository root) and the training's figures. The package step logs the folders as the
model; the run id is its lineage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llmspec.state.model import RecordedOutputs, required_output


@dataclass(frozen=True)
class FinetuneOutputs(RecordedOutputs):
    run_id: str
    tracking_uri: str
    method: str  # lora, qlora, full
    base_model: str  # the base model's folder
    model_dir: str  # what is served: the merged model, the full weights, or the adapter
    model_digest: str  # the served folder's content digest
    adapter_dir: str | None = None  # the LoRA adapter (None for `full`)
    merged: bool = False  # the adapter was merged into the base (model_dir is the merge)
    steps: int = 0
    first_loss: float | None = None
    last_loss: float | None = None
    best_eval_loss: float | None = None
    stopped_early: bool = False
    tokens_per_s: float | None = None
    examples: int = 0
    validation_examples: int = 0
    probe: dict[str, Any] = field(default_factory=dict)  # scores before/after, answers changed
    ray_job: str | None = None  # the Ray job's submission id (`backend: ray`)

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any], address: str = "") -> FinetuneOutputs:
        """Read recorded outputs; ValueError when the run or the trained folders are missing."""

        def need(key: str) -> str:
            return str(required_output(outputs, key, address))

        adapter = outputs.get("adapter_dir")
        return cls(
            run_id=str(outputs.get("run_id", "")),  # optional: no reader needs it
            tracking_uri=str(outputs.get("tracking_uri", "")),  # optional: no reader needs it
            method=str(outputs.get("method", "")),  # optional: no reader needs it
            base_model=need("base_model"),
            model_dir=need("model_dir"),
            model_digest=str(outputs.get("model_digest", "")),  # optional: no reader needs it
            adapter_dir=None if adapter is None else str(adapter),
            merged=bool(outputs.get("merged", False)),
            steps=int(outputs.get("steps", 0)),
            first_loss=outputs.get("first_loss"),
            last_loss=outputs.get("last_loss"),
            best_eval_loss=outputs.get("best_eval_loss"),
            stopped_early=bool(outputs.get("stopped_early", False)),
            tokens_per_s=outputs.get("tokens_per_s"),
            examples=int(outputs.get("examples", 0)),
            validation_examples=int(outputs.get("validation_examples", 0)),
            probe=dict(outputs.get("probe", {})),
            ray_job=outputs.get("ray_job"),
        )

    def model_folders(self) -> dict[str, str]:
        """What a package logs, relative to the repository root: the served model alone when it
        holds everything (merged, or full weights), else the base model and the adapter."""
        if self.merged or self.adapter_dir is None:
            return {"model": self.model_dir}
        return {"model": self.base_model, "adapter": self.adapter_dir}

    def to_outputs(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "tracking_uri": self.tracking_uri,
            "method": self.method,
            "base_model": self.base_model,
            "model_dir": self.model_dir,
            "adapter_dir": self.adapter_dir,
            "merged": self.merged,
            "model_digest": self.model_digest,
            "steps": self.steps,
            "first_loss": self.first_loss,
            "last_loss": self.last_loss,
            "best_eval_loss": self.best_eval_loss,
            "stopped_early": self.stopped_early,
            "tokens_per_s": self.tokens_per_s,
            "examples": self.examples,
            "validation_examples": self.validation_examples,
            "probe": self.probe,
            **({"ray_job": self.ray_job} if self.ray_job else {}),
        }
