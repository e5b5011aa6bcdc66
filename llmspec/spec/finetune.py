"""`finetune`: the LoRA / QLoRA / full recipe and the Accelerate compute it runs on."""

from typing import Literal

from pydantic import Field, model_validator

from llmspec.spec.base import Flag, Fraction, Identifier, PositiveInt, SpecModel, invalid, section


class FieldMap(SpecModel):
    """Names of the record fields, when they differ from the format's defaults."""

    messages: str = Field("messages", description="chat: the list of {role, content}.")
    instruction: str = Field("instruction", description="instruction: the task.")
    input: str = Field("input", description="instruction: optional input.")
    output: str = Field("output", description="instruction: the expected answer.")
    prompt: str = Field("prompt", description="completion: the prompt.")
    completion: str = Field("completion", description="completion: the answer.")


class Dataset(SpecModel):
    train: str = Field(
        description="Training records (jsonl), relative to the spec.", examples=["data/train.jsonl"]
    )
    validation: str | None = Field(None, description="Validation records (jsonl).")
    validation_split: float = Field(
        0.1,
        ge=0.0,
        lt=0.5,
        description="Share of `train` held out when there is no validation file.",
    )
    format: Literal["chat", "instruction", "completion"] = Field(
        "chat", description="Record format."
    )
    fields: FieldMap = section("Field names.")
    prompt_template: Identifier | None = Field(
        None,
        description="The app template records are rendered through (default: `prompts.default`).",
    )
    use_app_prompt: Flag = Field(
        True,
        description="Render records through the app's prompt "
        "template (with retrieved context when it uses `context`), so "
        "the model trains on the prompt it is served with; `false` "
        "trains on the raw records.",
    )


class Lora(SpecModel):
    r: PositiveInt = Field(16, le=1024, description="Rank of the update matrices.")
    alpha: PositiveInt = Field(32, description="Scaling numerator (scale = alpha / r).")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA path.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear",
        description="Module names to adapt, or `all-linear`.",
        examples=[["q_proj", "v_proj"]],
    )
    bias: Literal["none", "all", "lora_only"] = Field("none", description="Bias training.")


class Quantization(SpecModel):
    bits: Literal[4, 8] = Field(4, description="Quantization of the frozen base (QLoRA).")
    quant_type: Literal["nf4", "fp4"] = Field("nf4", description="4-bit data type.")
    double_quant: Flag = Field(True, description="Quantize the quantization constants.")
    compute_dtype: Literal["bfloat16", "float16", "float32"] = Field(
        "bfloat16", description="Dtype of the matmuls."
    )


class EarlyStopping(SpecModel):
    patience: PositiveInt = Field(3, description="Evaluations without improvement before stop.")
    min_delta: float = Field(0.0, ge=0.0, description="Smallest improvement that counts.")


class Training(SpecModel):
    epochs: float = Field(3, gt=0, description="Passes over the training data.")
    max_steps: PositiveInt | None = Field(
        None, description="Stop after this many optimizer steps (overrides `epochs`)."
    )
    learning_rate: float = Field(2e-4, gt=0, lt=1, description="Peak learning rate.")
    batch_size: PositiveInt = Field(8, description="Examples per device per step.")
    gradient_accumulation_steps: PositiveInt = Field(1, description="Steps per optimizer update.")
    max_seq_length: int = Field(1024, ge=16, description="Longest tokenized example.")
    optimizer: Literal["adamw_torch", "adamw_8bit", "adafactor", "sgd"] = Field(
        "adamw_torch", description="Optimizer."
    )
    scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field(
        "linear", description="Learning-rate schedule."
    )
    warmup_ratio: Fraction = Field(0.03, description="Share of steps spent warming up.")
    weight_decay: float = Field(0.0, ge=0.0, description="Weight decay.")
    gradient_checkpointing: Flag = Field(False, description="Trade compute for memory.")
    packing: Flag = Field(False, description="Pack short examples into full sequences.")
    eval_steps: PositiveInt | None = Field(
        None, description="Evaluate every N steps (default: each epoch)."
    )
    checkpoint_steps: PositiveInt | None = Field(
        None,
        description="Save a resumable checkpoint every N steps (default: at each evaluation, "
        "else each epoch); an interrupted apply resumes from the last one.",
    )
    early_stopping: EarlyStopping | None = Field(
        None, description="Stop when validation loss stops improving."
    )
    seed: int = Field(42, description="Seed for data order and initialisation.")


class Fsdp(SpecModel):
    wrap_policy: Literal["transformer", "size"] = Field(
        "transformer", description="FSDP auto-wrap policy."
    )
    min_num_params: PositiveInt = Field(100_000_000, description="Size-based wrap threshold.")
    sharding: Literal["full", "hybrid", "grad_op"] = Field("full", description="Sharding strategy.")
    cpu_offload: Flag = Field(False, description="Offload parameters to CPU.")


class DeepSpeed(SpecModel):
    offload_optimizer: Literal["none", "cpu", "nvme"] = Field(
        "none", description="Where optimizer state lives."
    )
    offload_params: Literal["none", "cpu", "nvme"] = Field("none", description="ZeRO-3 only.")


class RayCompute(SpecModel):
    """A Ray cluster the fine-tune is submitted to (`backend: ray`). Not part of the digest:
    `workers` × `training.batch_size` × accumulation is the global batch, as processes are on
    the local backend."""

    address: str | None = Field(
        None,
        description="The cluster's job-submission address (its dashboard, "
        "`http://head:8265`); default the `RAY_ADDRESS` environment variable, as Ray's own "
        "tools read it.",
        examples=["http://ray-head.ml.svc:8265"],
    )
    workers: PositiveInt = Field(2, description="Ray Train workers (one training process each).")
    cpus_per_worker: float = Field(1.0, gt=0, description="CPUs each worker reserves.")
    gpus_per_worker: float = Field(0.0, ge=0, description="GPUs each worker reserves.")
    max_failures: int = Field(
        3,
        ge=0,
        description="Restarts of the worker group after a lost worker; each resumes from the "
        "last checkpoint.",
    )
    storage: str | None = Field(
        None,
        description="Where the workers write checkpoints and the model, readable by the "
        "cluster and by apply: default the build store's bucket (`state.artifacts: s3://…`), "
        "else the fine-tune's work folder (a cluster on this machine).",
        examples=["s3://acme-ml/ray"],
    )
    pip: list[str] = Field(
        default_factory=list,
        description="Extra requirements installed into the job's runtime environment (the "
        "cluster's image normally has `llmspec[train]`; llmspec's own code is shipped with "
        "the job).",
    )


class Compute(SpecModel):
    """Rendered into an Accelerate config file (`backend: local`) or submitted to a Ray
    cluster as a Ray Train job (`backend: ray`)."""

    backend: Literal["local", "ray"] = Field(
        "local",
        description="`local`: `accelerate launch` on the machine that applies; `ray`: a Ray "
        "job running Ray Train's TorchTrainer over the same entrypoint.",
    )
    ray: RayCompute = section("The Ray cluster and workers (`backend: ray`).")

    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where training runs.")
    mixed_precision: Literal["no", "fp16", "bf16"] = Field(
        "no", description="Accelerate's mixed precision."
    )
    num_processes: PositiveInt = Field(1, description="Processes (GPUs) per machine.")
    num_machines: PositiveInt = Field(1, description="Machines.")
    strategy: Literal["ddp", "fsdp", "deepspeed-zero2", "deepspeed-zero3"] = Field(
        "ddp", description="How work is spread across processes."
    )
    image: str | None = Field(
        None,
        description="Container image of the rendered Kubernetes Job, with `llmspec[train]` "
        "installed (default `<app>-train:latest`). Not part of the fine-tune's digest.",
        examples=["registry.example.com/support-bot-train:1.4"],
    )
    namespace: str = Field(
        "default",
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Namespace of the rendered Kubernetes Job.",
    )
    fsdp: Fsdp = section("FSDP options (strategy `fsdp`).")
    deepspeed: DeepSpeed = section("DeepSpeed options (`deepspeed-*`).")


class PreferenceFields(SpecModel):
    """Names of the preference record fields, when they differ from TRL's."""

    prompt: str = Field("prompt", description="The question (text or a conversation).")
    chosen: str = Field("chosen", description="The preferred answer of a pair.")
    rejected: str = Field("rejected", description="The answer it is preferred to.")
    completion: str = Field("completion", description="kto: a single judged answer.")
    label: str = Field("label", description="kto: whether `completion` is wanted.")


class PreferenceDataset(SpecModel):
    train: str = Field(
        description="Preference records (jsonl), relative to the spec: pairs "
        "`{prompt, chosen, rejected}`, or for `kto` also single judged answers "
        "`{prompt, completion, label}` (TRL's field names).",
        examples=["data/pairs.jsonl"],
    )
    validation: str | None = Field(
        None, description="Held-out preference records (jsonl): the margins are measured on them."
    )
    validation_split: float = Field(
        0.1,
        ge=0.0,
        lt=0.5,
        description="Share of `train` held out when there is no validation file.",
    )
    format: Literal["preference"] = Field("preference", description="Record format.")
    fields: PreferenceFields = section("Field names.")
    prompt_template: Identifier | None = Field(
        None,
        description="The app template prompts are rendered through (default: `prompts.default`).",
    )
    use_app_prompt: Flag = Field(
        True,
        description="Render each prompt through the app's template (with retrieved context), "
        "as the model is served; `false` trains on the records' own prompts.",
    )


class Preference(SpecModel):
    """A preference-tuning stage after the supervised fine-tune: it starts from that fine-tune's
    adapter (or weights, for `full`) and trains the same weights with TRL's trainer for the
    method; what is packaged, evaluated and promoted is its result."""

    method: Literal["dpo", "orpo", "kto"] = Field(
        description="`dpo`: Direct Preference Optimization against the fine-tune as reference; "
        "`orpo`: odds-ratio preference optimization (no reference model); `kto`: "
        "Kahneman-Tversky Optimization, from pairs or single judged answers."
    )
    dataset: PreferenceDataset = Field(description="Preference data.")
    beta: float = Field(
        0.1,
        gt=0,
        description="dpo/kto: how far from the reference the model may move (larger: closer); "
        "orpo: the weight of the odds-ratio term.",
    )
    loss_type: Literal["sigmoid", "ipo", "hinge"] = Field(
        "sigmoid", description="dpo: the loss on the reward margin (TRL's `loss_type`)."
    )
    desirable_weight: float = Field(
        1.0, gt=0, description="kto: weight of the wanted answers' loss."
    )
    undesirable_weight: float = Field(
        1.0, gt=0, description="kto: weight of the unwanted answers' loss."
    )
    training: Training = section("Optimisation of the preference stage.")

    @model_validator(mode="after")
    def _sane(self) -> "Preference":
        if self.training.packing:
            raise invalid("preference methods compare whole answers: `packing` is off", "training")
        return self


class Finetune(SpecModel):
    method: Literal["lora", "qlora", "full"] = Field(
        "lora", description="Recipe: which weights train (a preference stage trains the same)."
    )
    dataset: Dataset = Field(description="Training data.")
    lora: Lora = section("LoRA settings (lora, qlora).")
    quantization: Quantization = section("Base-model quantization (qlora).")
    training: Training = section("Optimisation.")
    compute: Compute = section("Accelerate compute.")
    merge_adapter: Flag = Field(
        False, description="Merge the adapter into the base weights when packaging."
    )
    preference: Preference | None = Field(
        None,
        description="Preference tuning (DPO, ORPO, KTO) after the supervised fine-tune, from "
        "its adapter: SFT then DPO.",
    )

    @model_validator(mode="after")
    def _sane(self) -> "Finetune":
        if self.compute.strategy.startswith("deepspeed") and self.compute.device == "cpu":
            raise invalid("DeepSpeed strategies need GPUs; use `ddp` on `device: cpu`", "compute")
        if self.compute.backend == "ray" and self.compute.strategy != "ddp":
            raise invalid(
                f"`backend: ray` trains with DDP (Ray Train's process group); "
                f"`strategy: {self.compute.strategy}` runs through `accelerate launch` "
                "(`backend: local`)",
                "compute",
            )
        if self.preference is not None and self.compute.backend == "ray":
            raise invalid(
                "a preference stage runs with `accelerate launch` (`backend: local`), from the "
                "fine-tune's result on the machine that applies",
                "preference",
            )
        return self
