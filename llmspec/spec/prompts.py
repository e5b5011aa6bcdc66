"""`prompts`: the system prompt and the Jinja2 templates the app renders."""

from typing import Literal

from pydantic import Field, model_validator

from llmspec.spec.base import Identifier, SpecModel, invalid


class Message(SpecModel):
    role: Literal["system", "user", "assistant"] = Field(description="Who speaks.")
    content: str = Field(description="A Jinja2 template for the message text.")


def _default_inputs() -> list[str]:  # a function, not a lambda: the validator is cached
    return ["question"]


class PromptTemplate(SpecModel):
    """One prompt: a single text template, or a list of chat messages."""

    template: str | None = Field(
        None,
        description="A Jinja2 template (rendered sandboxed). It "
        "sees `system`, each name in `inputs`, and `context` (retrieved "
        "chunks with `.text`, `.source`, `.score`) when retrieval is on.",
    )
    messages: list[Message] | None = Field(
        None,
        description="Chat messages, each a template; rendered with the tokenizer's chat template.",
    )
    inputs: list[Identifier] = Field(
        default_factory=_default_inputs,
        description="Fields a caller sends.",
        examples=[["question"]],
    )
    description: str | None = Field(None, description="What the template is for.")

    @model_validator(mode="after")
    def _one_form(self) -> "PromptTemplate":
        if (self.template is None) == (self.messages is None):
            raise invalid("give exactly one of `template` or `messages`")
        return self


class Prompts(SpecModel):
    system: str = Field("", description="System prompt, available to templates as `system`.")
    templates: dict[Identifier, PromptTemplate] = Field(
        min_length=1, description="Named prompt templates."
    )
    default: Identifier | None = Field(
        None,
        description="Template used when a request names "
        "none; defaults to the only template when there is one.",
    )
