"""How an app's prompt becomes model input: the one code path shared by training and serving.

A spec's prompt template is rendered (sandboxed Jinja2) into chat messages; the messages become
text through the tokenizer's chat template, or are joined as plain text for a tokenizer without
one. The fine-tune renders every training record through exactly this, so the model learns the
prompt format it is served with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from llmspec.runtime.contracts import PromptConfig

Message = dict[str, str]


@lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )


@lru_cache(maxsize=256)
def _compiled(text: str) -> Any:
    return _environment().from_string(text)


@dataclass(frozen=True)
class AppPrompt:
    """A spec's prompt template, as plain data (what the job file and the model carry)."""

    system: str
    template: str | None
    messages: tuple[tuple[str, str], ...]  # (role, template) pairs when the prompt is a chat
    inputs: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppPrompt:
        return cls(
            str(data.get("system") or ""),
            data.get("template"),
            tuple((m["role"], m["content"]) for m in data.get("messages") or ()),
            tuple(data.get("inputs") or ("question",)),
        )

    @classmethod
    def from_config(cls, config: PromptConfig) -> AppPrompt:
        return cls(config.system, config.template, config.messages or (), config.inputs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "template": self.template,
            "messages": [{"role": r, "content": c} for r, c in self.messages] or None,
            "inputs": list(self.inputs),
        }

    @property
    def uses_context(self) -> bool:
        texts = [self.template] if self.template is not None else [c for _, c in self.messages]
        return any("context" in (t or "") for t in texts)

    def render(self, variables: Mapping[str, Any], context: Sequence[Any] = ()) -> list[Message]:
        """The chat messages for one request. ``context`` holds retrieved chunks (`.text`,
        `.source`, `.score`)."""
        scope = {**variables, "system": self.system, "context": list(context)}
        if self.template is not None:
            return [{"role": "user", "content": _compiled(self.template).render(scope)}]
        return [{"role": r, "content": _compiled(c).render(scope)} for r, c in self.messages]


CHARS_PER_TOKEN = 4  # the checks' estimate (`checks/budget.py`): no tokenizer is needed
MESSAGE_OVERHEAD = 4  # a chat template's role markers, per message


def estimated_tokens(messages: Sequence[Message]) -> int:
    return sum(-(-len(m["content"]) // CHARS_PER_TOKEN) + MESSAGE_OVERHEAD for m in messages)


def with_history(
    messages: Sequence[Message],
    history: Sequence[Message],
    context_window: int | None,
    answer_tokens: int,
) -> list[Message]:
    """The app's messages for the last user turn with the conversation's earlier turns before
    that turn: the newest that fit beside the prompt and the answer in the context window,
    oldest dropped first, starting on a user turn."""
    if not history or not context_window:
        return list(messages)
    budget = context_window - answer_tokens - estimated_tokens(messages)
    kept: list[Message] = []
    for turn in reversed(history):
        budget -= estimated_tokens([turn])
        if budget < 0:
            break
        kept.append(turn)
    kept.reverse()
    while kept and kept[0]["role"] != "user":
        kept.pop(0)
    last = len(messages) - 1
    return [*messages[:last], *kept, *messages[last:]]


def model_input(tokenizer: Any, messages: Sequence[Message]) -> str:
    """The text the model continues: the chat template with the assistant turn opened, or, for
    a tokenizer without a chat template, the messages' contents one after another."""
    if getattr(tokenizer, "chat_template", None):
        return str(
            tokenizer.apply_chat_template(
                list(messages), add_generation_prompt=True, tokenize=False
            )
        )
    return "\n\n".join(m["content"] for m in messages)


def answer_text(tokenizer: Any, messages: Sequence[Message], answer: str) -> str:
    """What follows ``model_input(messages)`` when the model gives ``answer``: the answer and
    the chat template's end-of-turn marker, or the answer and EOS without a template."""
    if getattr(tokenizer, "chat_template", None):
        prompt = model_input(tokenizer, messages)
        full = str(
            tokenizer.apply_chat_template(
                [*messages, {"role": "assistant", "content": answer}], tokenize=False
            )
        )
        if full.startswith(prompt) and answer in full[len(prompt) :]:
            return full[len(prompt) :]
    return answer + (tokenizer.eos_token or "")
