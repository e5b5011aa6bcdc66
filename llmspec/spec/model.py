"""`model`: where the base LLM comes from, a union over `source`."""

from typing import Annotated, Literal, Union

from pydantic import Field

from llmspec.core.secrets import SecretRef
from llmspec.spec.base import Flag, PositiveInt, SpecModel, section
from llmspec.spec.catalog import BUILTIN_MODELS

Dtype = Literal["auto", "float32", "float16", "bfloat16"]
BuiltinId = Literal["tiny-gpt2", "smollm2-135m-instruct"]  # BUILTIN_MODELS keys (tested)


class Generation(SpecModel):
    """Default decoding settings; requests may override them within `limits`."""

    max_new_tokens: PositiveInt = Field(256, description="Most tokens generated per answer.")
    temperature: float = Field(
        0.0, ge=0.0, le=2.0, description="Sampling temperature; 0 decodes greedily."
    )
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    repetition_penalty: float = Field(
        1.0, ge=1.0, le=2.0, description="Penalty on repeated tokens (1 = none)."
    )
    stop: list[str] = Field(default_factory=list, description="Stop sequences.")


class _Source(SpecModel):
    generation: Generation = section("Decoding settings.")


class _Context(SpecModel):
    context_window: PositiveInt | None = Field(
        None,
        description="Tokens the model can attend to; checked against prompt + retrieved "
        "context + answer. Required for the token-budget check on this source.",
        examples=[8192],
    )


class HFModel(_Source, _Context):
    """A Hugging Face Hub model, loaded with transformers (offline when HF_HUB_OFFLINE=1)."""

    source: Literal["hf"] = Field(description="Load from the Hugging Face Hub.")
    id: str = Field(
        pattern=r"^[\w.-]+(/[\w.-]+)?$",
        description="Repository id.",
        examples=["HuggingFaceTB/SmolLM2-135M-Instruct"],
    )
    revision: str = Field(
        "main",
        description="Branch, tag or commit sha; pin a sha in prod "
        "(`governance.require_pinned_revision`).",
        examples=["3f2a9c1d"],
    )
    dtype: Dtype = Field("auto", description="Weights dtype when loading.")
    trust_remote_code: Flag = Field(False, description="Allow code from the model repository.")


class LocalModel(_Source, _Context):
    """A model saved with `save_pretrained` in a folder of the repository."""

    source: Literal["local"] = Field(description="Load from a local folder.")
    path: str = Field(
        description="Folder with config.json, weights and tokenizer, relative to the spec.",
        examples=["models/base"],
    )
    dtype: Dtype = Field("auto", description="Weights dtype when loading.")


class BuiltinModelSource(_Source):
    """A model llmspec provides with no download: for laptops, CI and tests."""

    source: Literal["builtin"] = Field(description="A model that ships with llmspec.")
    id: BuiltinId = Field(
        description="Which built-in model. "
        + " ".join(f"`{k}`: {v.description}" for k, v in BUILTIN_MODELS.items()),
        examples=["tiny-gpt2"],
    )
    dtype: Dtype = Field("float32", description="Weights dtype when loading.")
    seed: int = Field(0, description="Seed for building and initialising the model.")


class Endpoint(SpecModel):
    base_url: str = Field(
        pattern=r"^https?://\S+$",
        description="The API's base URL.",
        examples=["https://api.example.com/v1"],
    )
    id: str = Field(description="Model name the endpoint serves.", examples=["gpt-4o-mini"])
    api_key: SecretRef | None = Field(None, description="API key, as a secret reference.")


class OpenAICompatibleModel(_Source, _Context):
    """A model behind an OpenAI-compatible HTTP API; it can be prompted, not fine-tuned."""

    source: Literal["openai-compatible"] = Field(description="Call an OpenAI-compatible API.")
    base_url: str = Field(
        pattern=r"^https?://\S+$",
        description="The API's base URL.",
        examples=["https://api.example.com/v1"],
    )
    id: str = Field(description="Model name the endpoint serves.", examples=["gpt-4o-mini"])
    api_key: SecretRef | None = Field(
        None, description="API key, as a secret reference (`${secret:NAME}`); never a literal."
    )
    timeout_s: float = Field(60.0, gt=0, description="Request timeout in seconds.")
    max_retries: int = Field(2, ge=0, le=10, description="Retries on transient errors.")
    fallbacks: list[Endpoint] = Field(
        default_factory=list, description="Endpoints tried in order when this one fails."
    )


ModelSource = Annotated[
    Union[HFModel, LocalModel, BuiltinModelSource, OpenAICompatibleModel],
    Field(discriminator="source"),
]
SOURCES = ("hf", "local", "builtin", "openai-compatible")
