"""The two files the compiler writes for the runtime, as typed shapes: the packaged model's
`app.json` (`AppConfig`) and the fine-tune's `job.json` (`JobConfig`).

The compiler builds them from a spec and writes them with ``to_json``; the runtime reads them
with ``from_json``. Reading checks the keys of every object (none unknown, none missing), so a
file and the code that reads it agree or say where they differ; the values are not checked
again (the spec's validation did that). Standard library only: this is imported inside the
model.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Self, TypeVar


class ContractError(ValueError):
    """A file does not have the shape this runtime reads; the message says where."""


@dataclass(frozen=True)
class _Part:
    """What every contract type does: from and to JSON data. A part with nested parts or
    tuples overrides ``from_dict``; ``to_dict`` writes tuples as lists."""

    @classmethod
    def from_dict(cls, data: Any, where: str = "") -> Self:
        return cls(**_keys(cls, data, where))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = _plain(self)
        return data


_P = TypeVar("_P", bound=_Part)


def _keys(cls: type[Any], data: Any, where: str) -> dict[str, Any]:
    """``data`` as a dict, once its keys are the fields of ``cls`` (one with a default may be
    left out)."""
    where = where or cls.__name__
    if not isinstance(data, Mapping):
        raise ContractError(f"{where}: expected an object, got {type(data).__name__}")
    fields = dataclasses.fields(cls)
    names = {f.name for f in fields}
    required = {f.name for f in fields if f.default is dataclasses.MISSING}
    unknown = sorted(set(data) - names)
    missing = sorted(required - set(data))
    if unknown or missing:
        said = [f"unknown key(s) {', '.join(unknown)}"] if unknown else []
        said += [f"missing key(s) {', '.join(missing)}"] if missing else []
        raise ContractError(f"{where}: {'; '.join(said)} (expected: {', '.join(sorted(names))})")
    return dict(data)


def _plain(value: Any) -> Any:
    if isinstance(value, _Part):
        if type(value).to_dict is not _Part.to_dict:  # its own JSON form
            return value.to_dict()
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _document(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(f"{name} is not JSON: {exc}") from None


# ---- parts of both files ----------------------------------------------------------------


@dataclass(frozen=True)
class PromptConfig(_Part):
    """The app's prompt: one text template, or chat messages as (role, template) pairs.
    ``uri`` is its version in MLflow's Prompt Registry (`prompts:/<name>/<version>`), which a
    packaged model's traces link to; a job file, or a model packaged where the registry could
    not hold prompts, has none."""

    name: str
    system: str
    template: str | None
    messages: tuple[tuple[str, str], ...] | None
    inputs: tuple[str, ...]
    uri: str | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str = "prompt") -> Self:
        d = _keys(cls, data, where)
        messages = None
        if d["messages"] is not None:
            parsed = [
                _Message.from_dict(m, f"{where}.messages[{i}]") for i, m in enumerate(d["messages"])
            ]
            messages = tuple((m.role, m.content) for m in parsed)
        return cls(
            d["name"], d["system"], d["template"], messages, tuple(d["inputs"]), d.get("uri")
        )

    def to_dict(self) -> dict[str, Any]:  # the uri only when set: older files stay as they were
        messages = self.messages
        data: dict[str, Any] = {
            "name": self.name,
            "system": self.system,
            "template": self.template,
            "messages": None if messages is None else [_Message(*m).to_dict() for m in messages],
            "inputs": list(self.inputs),
        }
        if self.uri is not None:
            data["uri"] = self.uri
        return data


@dataclass(frozen=True)
class _Message(_Part):  # a prompt message's JSON form
    role: str
    content: str


@dataclass(frozen=True)
class EmbeddingConfig(_Part):
    model: str
    revision: str | None
    query_prompt: str | None = None  # None: the model's own `query` prompt, if it names one
    document_prompt: str | None = None

    def to_dict(self) -> dict[str, Any]:  # the prompts only when set: older files stay as they were
        data = {"model": self.model, "revision": self.revision}
        prompts = {"query_prompt": self.query_prompt, "document_prompt": self.document_prompt}
        return {**data, **{k: v for k, v in prompts.items() if v is not None}}


@dataclass(frozen=True)
class RetrievalConfig(_Part):
    """How to search the app's index. ``version`` is the table version a packaged model reads;
    a job file has none (its index is the one the apply has just built)."""

    uri: str
    table: str
    embedding: EmbeddingConfig
    top_k: int
    hybrid: bool
    reranker: str
    nprobes: int
    refine_factor: int | None
    metric: str
    version: int | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str = "retrieval") -> Self:
        d = _keys(cls, data, where)
        return cls(
            **{**d, "embedding": EmbeddingConfig.from_dict(d["embedding"], f"{where}.embedding")}
        )

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        if self.version is None:
            del data["version"]
        return data


def _optional(cls: type[_P], data: Any, where: str) -> _P | None:
    return None if data is None else cls.from_dict(data, where)


# ---- app.json ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationConfig(_Part):
    """Decoding defaults; a request may override some of them within the limits."""

    max_new_tokens: int
    temperature: float
    top_p: float
    repetition_penalty: float
    stop: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Any, where: str = "generation") -> Self:
        d = _keys(cls, data, where)
        return cls(**{**d, "stop": tuple(d["stop"])})


@dataclass(frozen=True)
class LimitsConfig(_Part):
    """Bounds on what a request may ask for."""

    max_new_tokens: int
    max_temperature: float
    # the model's context window: earlier turns of a conversation are kept while the prompt,
    # they and the answer fit it (None: no earlier turns)
    context_window: int | None = None


@dataclass(frozen=True)
class LocalModelConfig(_Part):
    """A model whose weights are the packaged model's `model` (and `adapter`) artifacts."""

    source: str  # builtin, hf or local: where the compiler took the weights from
    dtype: str


@dataclass(frozen=True)
class EndpointConfig(_Part):
    """An OpenAI-compatible endpoint; ``api_key`` is the *name* of its secret, never a value."""

    base_url: str
    id: str
    api_key: str | None


@dataclass(frozen=True)
class EndpointModelConfig(_Part):
    """An endpoint, and the fallbacks tried in order when it fails."""

    source: Literal["openai-compatible"]
    base_url: str
    id: str
    api_key: str | None
    fallbacks: tuple[EndpointConfig, ...]
    timeout_s: float
    max_retries: int

    @classmethod
    def from_dict(cls, data: Any, where: str = "model") -> Self:
        d = _keys(cls, data, where)
        fallbacks = tuple(
            EndpointConfig.from_dict(f, f"{where}.fallbacks[{i}]")
            for i, f in enumerate(d["fallbacks"])
        )
        return cls(**{**d, "fallbacks": fallbacks})

    @property
    def endpoints(self) -> tuple[EndpointConfig, ...]:
        """This endpoint, then its fallbacks."""
        return (EndpointConfig(self.base_url, self.id, self.api_key), *self.fallbacks)


ModelConfig = LocalModelConfig | EndpointModelConfig


def model_config_from_dict(data: Any, where: str = "model") -> ModelConfig:
    """An `app.json` model section, by its `source`."""
    if isinstance(data, Mapping) and data.get("source") == "openai-compatible":
        return EndpointModelConfig.from_dict(data, where)
    return LocalModelConfig.from_dict(data, where)


@dataclass(frozen=True)
class MonitoringConfig(_Part):
    """What the model server does with requests: trace them (a share of them), take feedback."""

    log_traces: bool
    feedback: bool
    sample_rate: float


@dataclass(frozen=True)
class AppConfig(_Part):
    """`app.json`: everything the packaged model reads besides its model folders."""

    app: str
    prompt: PromptConfig
    generation: GenerationConfig
    limits: LimitsConfig
    model: ModelConfig
    retrieval: RetrievalConfig | None
    monitoring: MonitoringConfig

    @classmethod
    def from_dict(cls, data: Any, where: str = "app.json") -> Self:
        d = _keys(cls, data, where)
        return cls(
            d["app"],
            PromptConfig.from_dict(d["prompt"], f"{where}: prompt"),
            GenerationConfig.from_dict(d["generation"], f"{where}: generation"),
            LimitsConfig.from_dict(d["limits"], f"{where}: limits"),
            model_config_from_dict(d["model"], f"{where}: model"),
            _optional(RetrievalConfig, d["retrieval"], f"{where}: retrieval"),
            MonitoringConfig.from_dict(d["monitoring"], f"{where}: monitoring"),
        )

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.from_dict(_document(text, "app.json"))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


# ---- job.json ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetConfig(_Part):
    """Training records: files relative to the spec's folder, their format and field names."""

    train: str
    validation: str | None
    validation_split: float
    format: str
    fields: dict[str, str]  # the format's field → the records' key
    prompt_template: str | None
    use_app_prompt: bool


@dataclass(frozen=True)
class PreferenceConfig(_Part):
    """A preference stage's loss settings (TRL's names)."""

    beta: float
    loss_type: Literal["sigmoid", "ipo", "hinge"]
    desirable_weight: float
    undesirable_weight: float


@dataclass(frozen=True)
class LoraConfig(_Part):
    r: int
    alpha: int
    dropout: float
    target_modules: tuple[str, ...] | Literal["all-linear"]
    bias: Literal["none", "all", "lora_only"]

    @classmethod
    def from_dict(cls, data: Any, where: str = "lora") -> Self:
        d = _keys(cls, data, where)
        targets = d["target_modules"]
        return cls(
            **{**d, "target_modules": targets if isinstance(targets, str) else tuple(targets)}
        )


@dataclass(frozen=True)
class QuantizationConfig(_Part):
    bits: int
    quant_type: str
    double_quant: bool
    compute_dtype: str


@dataclass(frozen=True)
class EarlyStoppingConfig(_Part):
    patience: int
    min_delta: float


@dataclass(frozen=True)
class TrainingConfig(_Part):
    epochs: float
    max_steps: int | None
    learning_rate: float
    batch_size: int
    gradient_accumulation_steps: int
    max_seq_length: int
    optimizer: str
    scheduler: str
    warmup_ratio: float
    weight_decay: float
    gradient_checkpointing: bool
    packing: bool
    eval_steps: int | None
    checkpoint_steps: int | None
    early_stopping: EarlyStoppingConfig | None
    seed: int

    @classmethod
    def from_dict(cls, data: Any, where: str = "training") -> Self:
        d = _keys(cls, data, where)
        early = d["early_stopping"]
        if early is not None:
            early = EarlyStoppingConfig.from_dict(early, f"{where}.early_stopping")
        return cls(**{**d, "early_stopping": early})


@dataclass(frozen=True)
class FsdpConfig(_Part):
    wrap_policy: str
    min_num_params: int
    sharding: str
    cpu_offload: bool


@dataclass(frozen=True)
class DeepSpeedConfig(_Part):
    offload_optimizer: str
    offload_params: str


@dataclass(frozen=True)
class RayConfig(_Part):
    address: str | None
    workers: int
    cpus_per_worker: float
    gpus_per_worker: float
    max_failures: int
    storage: str | None
    pip: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Any, where: str = "ray") -> Self:
        d = _keys(cls, data, where)
        return cls(**{**d, "pip": tuple(d["pip"])})


@dataclass(frozen=True)
class ComputeConfig(_Part):
    """Where training runs (the launcher's config is rendered from it, beside the job)."""

    device: str
    mixed_precision: str
    num_processes: int
    num_machines: int
    strategy: str
    fsdp: FsdpConfig
    deepspeed: DeepSpeedConfig
    backend: str = "local"
    ray: RayConfig | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str = "compute") -> Self:
        d = _keys(cls, data, where)
        fsdp = FsdpConfig.from_dict(d["fsdp"], f"{where}.fsdp")
        deepspeed = DeepSpeedConfig.from_dict(d["deepspeed"], f"{where}.deepspeed")
        ray = RayConfig.from_dict(d["ray"], f"{where}.ray") if d.get("ray") else None
        return cls(**{**d, "fsdp": fsdp, "deepspeed": deepspeed, "ray": ray})

    @property
    def processes(self) -> int:
        """Training processes in all: Ray workers, or processes × machines."""
        if self.backend == "ray" and self.ray is not None:
            return self.ray.workers
        return self.num_processes * self.num_machines


@dataclass(frozen=True)
class JobConfig(_Part):
    """`job.json`: the fine-tune recipe, and how records become prompts (the app's template
    and index settings as they were when the job was rendered)."""

    resource: str
    inputs_digest: str
    app: str
    model: dict[str, Any]  # the spec's model identity (source, id, revision, path, dtype, …)
    method: Literal["lora", "qlora", "full"]
    dataset: DatasetConfig
    lora: LoraConfig
    quantization: QuantizationConfig
    training: TrainingConfig
    compute: ComputeConfig
    merge_adapter: bool
    prompt: PromptConfig
    retrieval: RetrievalConfig | None
    renderer: dict[str, str]  # template → digest: what rendered the job's files
    # `sft`, or a preference method trained from the fine-tune's result (`--start-from`)
    objective: Literal["sft", "dpo", "orpo", "kto"] = "sft"
    preference: PreferenceConfig | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str = "job.json") -> Self:
        d = _keys(cls, data, where)
        parts = {
            "dataset": DatasetConfig.from_dict(d["dataset"], f"{where}: dataset"),
            "lora": LoraConfig.from_dict(d["lora"], f"{where}: lora"),
            "quantization": QuantizationConfig.from_dict(
                d["quantization"], f"{where}: quantization"
            ),
            "training": TrainingConfig.from_dict(d["training"], f"{where}: training"),
            "compute": ComputeConfig.from_dict(d["compute"], f"{where}: compute"),
            "prompt": PromptConfig.from_dict(d["prompt"], f"{where}: prompt"),
            "retrieval": _optional(RetrievalConfig, d["retrieval"], f"{where}: retrieval"),
            "preference": _optional(PreferenceConfig, d.get("preference"), f"{where}: preference"),
        }
        return cls(**{**d, **parts})

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.from_dict(_document(text, "job.json"))

    def to_json(self) -> str:
        """The file: sorted keys, two-space indent, a final newline (as llmspec renders)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
