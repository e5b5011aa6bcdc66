"""`serving`: the registry entry, where the model is served, and how it is monitored."""

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from llmspec.core.secrets import SecretRef
from llmspec.spec.base import Flag, Fraction, Op, PositiveInt, Quantity, SpecModel, invalid, section
from llmspec.spec.catalog import MonitorMetric
from llmspec.spec.retrieval import RayPool
from llmspec.spec.rollout import Notifications, OnlineJudge, Rollout

Port = Annotated[int, Field(ge=1, le=65535)]
Env = dict[str, str | SecretRef]


class Registry(SpecModel):
    name: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Registered model name (default: `metadata.name`).",
    )
    alias: str = Field(
        "champion",
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Alias this environment promotes (dev, challenger, champion…).",
    )


class Replicas(SpecModel):
    min: int = Field(1, ge=0, description="Fewest replicas (0 scales to zero on KServe).")
    max: PositiveInt = Field(1, description="Most replicas.")

    @model_validator(mode="after")
    def _ordered(self) -> "Replicas":
        if self.max < self.min:
            raise invalid(f"max ({self.max}) is below min ({self.min})", "max")
        return self


class Resources(SpecModel):
    cpu: Quantity = Field("1", description="CPU request.")
    memory: Quantity = Field("4Gi", description="Memory request.")
    gpu: int = Field(0, ge=0, description="GPUs (nvidia.com/gpu).")


class MlflowTarget(SpecModel):
    """The app server on the registered version (local and dev): what `llmspec serve` runs."""

    kind: Literal["mlflow"] = Field(description="The local app server (`llmspec serve`).")
    host: str = Field("127.0.0.1", description="Interface to bind.")
    port: Port = Field(5001, description="Port.")
    workers: PositiveInt = Field(1, description="Server workers.")


class _Cluster(SpecModel):
    namespace: str = Field(
        "default", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", description="Kubernetes namespace."
    )
    replicas: Replicas = section("Replica range.")
    resources: Resources = section("Per-replica resources.")
    image: str | None = Field(
        None,
        description="Serving image (default: `<app>:latest`, the tag the docker target's "
        "`build.sh` gives).",
    )
    env: Env = Field(
        default_factory=dict, description="Environment variables; secrets become `secretKeyRef`s."
    )


class KubernetesTarget(_Cluster):
    """A Deployment + Service + HPA running the app server (and, for `runtime: vllm`, a vLLM
    Deployment + Service it calls)."""

    kind: Literal["kubernetes"] = Field(description="Plain Kubernetes manifests.")
    port: Port = Field(8080, description="Container port.")
    target_cpu_utilization: int = Field(80, ge=1, le=100, description="HPA CPU target (%).")


class KServeTarget(_Cluster):
    """A KServe InferenceService running the app server as a custom predictor (and, for
    `runtime: vllm`, one running vLLM)."""

    kind: Literal["kserve"] = Field(description="A KServe InferenceService manifest.")
    storage_uri: str | None = Field(
        None,
        description="Where the app server (and vLLM's fetch step) load the MLflow model from "
        "(default: `models:/<name>@<alias>`, from the registry).",
    )
    scale_metric: Literal["concurrency", "rps", "cpu", "memory"] = Field(
        "concurrency", description="Autoscaling metric."
    )
    scale_target: PositiveInt = Field(1, description="Autoscaling target per replica.")
    traffic: Literal["app", "kserve"] = Field(
        "app",
        description="Who splits a rollout's traffic: the app server (it follows the registry's "
        "route, sticky per user) or KServe's canary (`llmspec rollout` writes the "
        "InferenceService with `canaryTrafficPercent` and the challenger's version at each "
        "step, for your CD to apply).",
    )


class DockerTarget(SpecModel):
    """A serving image: `build.sh` runs MLflow's Dockerfile generator on the alias's version
    (the model and its pinned requirements), makes the app server its entrypoint (port 8080),
    adds the environment, and builds."""

    kind: Literal["docker"] = Field(description="A container image of the model server.")
    image: str | None = Field(None, description="Image name to tag.", examples=["acme/support-bot"])
    env: Env = Field(
        default_factory=dict,
        description="Environment variables; secrets are passed at run time, never baked in.",
    )


class SparkTarget(SpecModel):
    """A PySpark job applying the registered model to a table with `mlflow.pyfunc.spark_udf`:
    batch inference for data that outgrows one machine (`llmspec predict` runs in process)."""

    kind: Literal["spark"] = Field(description="A rendered PySpark batch-inference job.")
    input: str | None = Field(
        None,
        description="Default input path (`--input` at submit time wins).",
        examples=["s3://acme-data/support/questions/"],
    )
    output: str | None = Field(
        None,
        description="Default output path (`--output` at submit time wins); never overwritten.",
        examples=["s3://acme-data/support/answers/"],
    )
    format: Literal["parquet", "json", "csv", "delta"] = Field(
        "parquet", description="Format of the input and output."
    )
    partitions: PositiveInt | None = Field(
        None, description="Repartition the input into this many tasks before predicting."
    )


class RayTarget(SpecModel):
    """Batch inference on Ray Data: `llmspec predict --backend ray` (a driver of the cluster)
    and a rendered `ray job submit` script run the registered model over files in object
    storage, each actor of the pool loading it once."""

    kind: Literal["ray"] = Field(description="Batch inference on a Ray cluster.")
    input: str | None = Field(
        None,
        description="Default input (`--input` wins): .jsonl, .parquet or .csv, local or s3://.",
        examples=["s3://acme-data/support/questions.jsonl"],
    )
    output: str | None = Field(
        None,
        description="Default output (`--output` wins); written whole at the end.",
        examples=["s3://acme-data/support/answers.jsonl"],
    )
    ray: RayPool = section("The cluster and the actor pool.")


Target = Annotated[
    Union[MlflowTarget, KubernetesTarget, KServeTarget, DockerTarget, SparkTarget, RayTarget],
    Field(discriminator="kind"),
]


class Alert(SpecModel):
    metric: MonitorMetric = Field(description="A monitored metric.")
    op: Op = Field(description="Comparison that must hold.")
    value: float = Field(description="Threshold.")
    window: str = Field("1h", pattern=r"^[0-9]+[smhd]$", description="Aggregation window.")
    action: Literal["notify", "retrain"] = Field(
        "notify", description="`retrain` marks the app for retraining in the next plan."
    )


class Monitoring(SpecModel):
    log_traces: Flag = Field(True, description="Log every request as an MLflow trace.")
    feedback: Flag = Field(False, description="Accept human feedback on traces.")
    sample_rate: Fraction = Field(1.0, description="Share of requests traced.")
    alerts: list[Alert] = Field(default_factory=list, description="Evaluated like gates.")
    judges: list[OnlineJudge] = Field(
        default_factory=list,
        description="Evaluation metrics scored on served traces (`llmspec monitor` and "
        "`llmspec rollout` run them), written onto the traces as assessments.",
    )


class Limits(SpecModel):
    """Bounds on what a request may override."""

    max_new_tokens: PositiveInt = Field(
        1024, description="Largest `max_new_tokens` a request may ask for."
    )
    max_temperature: float = Field(1.5, ge=0, le=2, description="Largest temperature.")


class Vllm(SpecModel):
    """The model server of `runtime: vllm`: vLLM's OpenAI server hosting the base model and the
    fine-tune's LoRA adapters; the app server calls it."""

    python: str | None = Field(
        None,
        description="A Python that can import vllm, for `llmspec serve` (default: "
        "`$LLMSPEC_VLLM_PYTHON`). vLLM lives in its own virtualenv, as it has its own "
        "container in a cluster.",
        examples=[".venv-vllm/bin/python"],
    )
    port: Port = Field(8000, description="Port of the local vLLM server (`llmspec serve`).")
    image: str = Field(
        "vllm/vllm-openai:v0.32.0", description="vLLM image of the rendered model server."
    )
    gpu: int = Field(1, ge=0, description="GPUs per vLLM replica (nvidia.com/gpu) in clusters.")
    aliases: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]] = Field(
        default_factory=list,
        description="Other aliases of the registered model whose adapters vLLM hosts beside "
        "this environment's, on the same base (a champion beside the challenger); each must "
        "name a version when the server starts.",
        examples=[["champion"]],
    )
    max_loras: PositiveInt = Field(
        2, description="Adapters served at once on one base (a champion and a challenger)."
    )
    max_lora_rank: Literal[1, 8, 16, 32, 64, 128, 256, 320, 512] = Field(
        16, description="Largest adapter rank vLLM accepts (one of vLLM's sizes)."
    )
    max_model_len: PositiveInt | None = Field(
        None, description="Longest sequence (default: the model's context window)."
    )
    kv_cache_gib: PositiveInt = Field(
        2, description="KV cache of the CPU build, in GiB (`VLLM_CPU_KVCACHE_SPACE`)."
    )
    args: list[str] = Field(
        default_factory=list, description="More arguments for vLLM's OpenAI server."
    )


class Serving(SpecModel):
    runtime: Literal["inprocess", "vllm"] = Field(
        "inprocess",
        description="What generates: `inprocess` (transformers inside the app server; for dev) "
        "or `vllm` (a batching model server the app server calls).",
    )
    vllm: Vllm = section("The vLLM model server, for `runtime: vllm`.")
    registry: Registry | None = section("Model-registry entry; `null` to not register.")
    targets: list[Target] = Field(default_factory=list, description="Where the model is served.")
    monitoring: Monitoring = section("Traces, feedback, alerts, online judges.")
    rollout: Rollout | None = Field(
        None,
        description="Progressive delivery: a version that passed its gates runs beside the "
        "champion and takes traffic step by step (`llmspec rollout`) instead of the alias "
        "moving at once.",
    )
    notifications: Notifications = section("Where rollout events and firing alerts go.")
    limits: Limits = section("Request override bounds.")
