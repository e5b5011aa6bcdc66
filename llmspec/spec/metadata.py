"""`metadata`: the app's identity and its model-registry card."""

from pydantic import Field

from llmspec.spec.base import Name, SpecModel, section


class CardConstraints(SpecModel):
    max_input_tokens: int | None = Field(None, ge=1, description="Longest input the app accepts.")
    languages: list[str] = Field(
        default_factory=list,
        description="Languages the app supports (ISO 639-1 codes).",
        examples=[["en", "pt"]],
    )


class CardCost(SpecModel):
    per_1k_tokens_usd: float = Field(ge=0, description="Estimated cost per 1,000 tokens, in USD.")


class Card(SpecModel):
    """Published as registered-model and model-version tags and description."""

    capabilities: list[str] = Field(
        default_factory=list,
        description="What the app does.",
        examples=[["question-answering", "summarization"]],
    )
    constraints: CardConstraints = section("Limits callers must respect.")
    cost: CardCost | None = Field(
        None, description="Cost estimate used by monitoring and policies."
    )
    intended_use: str | None = Field(None, description="Who should use the app, for what.")
    limitations: str | None = Field(None, description="Known failure modes.")
    license: str | None = Field(None, description="License of the served model.")


class Metadata(SpecModel):
    name: Name = Field(
        description="The app's name: lowercase letters, digits and `-`; unique in "
        "the repository; the registered model's default name.",
        examples=["support-bot"],
    )
    owner: str | None = Field(
        None, description="Team or person responsible.", examples=["ml-platform"]
    )
    description: str | None = Field(None, description="One line on what the app does.")
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Free-form labels, copied to registry tags and Kubernetes labels.",
        examples=[{"team": "support", "tier": "1"}],
    )
    card: Card | None = Field(None, description="The model-registry card.")
