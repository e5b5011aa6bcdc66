"""`governance` (policies checked at validate/plan time), `tracking` (where MLflow lives) and
`state` (where apply records what it built)."""

from typing import Literal, get_args

from pydantic import Field

from llmspec.core.secrets import SecretRef
from llmspec.spec.base import Flag, SpecModel

Source = Literal["hf", "local", "builtin", "openai-compatible"]


def _every_source() -> list[Source]:  # a function, not a lambda: the validator is cached
    return list(get_args(Source))


class Governance(SpecModel):
    approvals: int = Field(
        0,
        ge=0,
        le=10,
        description="How many different people must approve a plan (`llmspec approve`) "
        "before apply executes it.",
    )
    allowed_sources: list[Source] = Field(
        default_factory=_every_source,
        description="Model sources this app may use.",
    )
    require_pinned_revision: Flag = Field(
        False, description="`model.revision` must be a commit sha."
    )
    require_gates: Flag = Field(False, description="Promotion needs at least one gate.")
    max_cost_per_1k_tokens_usd: float | None = Field(
        None, ge=0, description="Upper bound on `metadata.card.cost`."
    )
    required_card_fields: list[
        Literal["capabilities", "constraints", "cost", "intended_use", "limitations", "license"]
    ] = Field(default_factory=list, description="Card fields that must be filled in.")
    allowed_external_paths: list[str] = Field(
        default_factory=list,
        description="Folders outside the repository that data paths may name (absolute paths).",
    )


class RepositoryPolicy(SpecModel):
    """`llmspec-policy.yaml` at the repository root: rules every spec of the repository must
    satisfy, on top of its own `governance`, tightened per environment."""

    apiVersion: Literal["llmspec/v1"] = Field(description="Policy format version.")
    kind: Literal["Policy"] = Field(description="Always `Policy`.")
    policy: Governance = Field(
        default_factory=Governance, description="Rules for every environment."
    )
    environments: dict[str, Governance] = Field(
        default_factory=dict,
        description="Rules added in named environments (the fields written replace the base's).",
    )

    def for_environment(self, env: str | None) -> Governance:
        extra = self.environments.get(env or "")
        if extra is None:
            return self.policy
        return self.policy.model_copy(
            update={name: getattr(extra, name) for name in extra.model_fields_set}
        )


class Tracking(SpecModel):
    uri: str | None = Field(
        None,
        description="MLflow tracking URI. `--tracking-uri` and `MLFLOW_TRACKING_URI` take "
        "precedence; default: the repository's local store `sqlite:///.llmspec/mlflow.db`.",
        examples=["https://mlflow.internal.example.com"],
    )
    registry_uri: str | None = Field(
        None,
        description="MLflow registry URI (`MLFLOW_REGISTRY_URI` takes precedence; default: the "
        "tracking server's own).",
    )
    experiment: str | None = Field(
        None, description="Experiment name (default: `llmspec/<app>/<env>`)."
    )


class StateConfig(SpecModel):
    """Where `apply` records what it built, and where built artifacts are kept."""

    backend: Literal["local", "sql", "s3"] = Field(
        "local",
        description="`local`: files under `path`; `sql`: a database at `url` "
        "(SQLite or PostgreSQL); `s3`: objects at `url` (`s3://bucket/prefix`, locked by "
        "conditional writes). The last two for teams and CI runners that lose local files.",
    )
    path: str = Field(
        ".llmspec/state",
        description="Folder of the local backend, relative to the repository root.",
    )
    url: str | SecretRef | None = Field(
        None,
        description="SQLAlchemy URL of the sql backend, or `s3://bucket/prefix` of the s3 "
        "backend; a secret reference when it holds "
        "a password.",
        examples=["sqlite:///.llmspec/state.db", "${secret:STATE_DB_URL}"],
    )
    artifacts: str = Field(
        ".llmspec/artifacts",
        description="Content-addressed store shared by the app's "
        "environments, relative to the repository root, or `s3://bucket/prefix` for CI runners "
        "that share nothing else: a resource built in staging is reused by prod when its inputs "
        "digest is the same.",
        examples=[".llmspec/artifacts", "s3://acme-llm/llmspec/artifacts"],
    )
    lock_timeout_s: float = Field(
        0.0,
        ge=0,
        description="How long apply waits for another apply of the same app+env to finish.",
    )
