"""Preference data: records with TRL's field names → prompts rendered as the app serves them,
each with the answers compared.

A record is a pair, ``{prompt, chosen, rejected}`` (DPO, ORPO; KTO splits it into one wanted
and one unwanted answer), or a single judged answer, ``{prompt, completion, label}`` (KTO).
``prompt`` is the question as text, or a conversation whose last message is the user's; each
answer is text, or a one-message conversation of the assistant. Other keys (the trace ids an
export writes) are kept out of training. Records are checked line by line before anything
trains: an empty side, a pair whose two answers are the same, a label that is not a boolean.
Light to import: tokenizers and retrievers are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmspec.runtime.prompting import AppPrompt, Message, model_input
from llmspec.runtime.sft_data import DataError, Retrieve, read_checked, render_record

DEFAULT_FIELDS = {
    "prompt": "prompt",
    "chosen": "chosen",
    "rejected": "rejected",
    "completion": "completion",
    "label": "label",
}
PAIRED = ("dpo", "orpo")  # methods that learn from pairs only


@dataclass(frozen=True)
class PreferenceExample:
    """The messages before the answer, and the answers: ``chosen`` over ``rejected`` for a
    pair; for a single judged answer (KTO), ``chosen`` when it is wanted, else ``rejected``,
    the other side empty."""

    messages: tuple[Message, ...]
    chosen: str
    rejected: str
    source: str  # "path:line", for diagnostics

    @property
    def paired(self) -> bool:
        return bool(self.chosen) and bool(self.rejected)

    def prompt_text(self, tokenizer: Any) -> str:
        return model_input(tokenizer, self.messages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "messages": list(self.messages),
            "chosen": self.chosen,
            "rejected": self.rejected,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> PreferenceExample:
        return cls(tuple(row["messages"]), row["chosen"], row["rejected"], row["source"])


def check_record(
    record: Any, fields: Mapping[str, str] | None = None, method: str = "dpo"
) -> str | None:
    """Why a parsed record cannot be used to train ``method``, or None."""
    names = {**DEFAULT_FIELDS, **(fields or {})}
    if not isinstance(record, dict):
        return "a record must be a JSON object"
    prompt, chosen, rejected = names["prompt"], names["chosen"], names["rejected"]
    completion, label = names["completion"], names["label"]
    if prompt not in record:
        return f"missing field `{prompt}`"
    problem = _prompt_problem(record[prompt], prompt)
    if problem:
        return problem
    if chosen in record or rejected in record:
        missing = [f for f in (chosen, rejected) if f not in record]
        if missing:
            return f"missing field `{missing[0]}` (a pair has both `{chosen}` and `{rejected}`)"
        sides = {}
        for name in (chosen, rejected):
            text, problem = _answer(record[name], name)
            if problem:
                return problem
            sides[name] = text
        if sides[chosen].strip() == sides[rejected].strip():
            return f"`{chosen}` and `{rejected}` are the same answer: the pair teaches nothing"
        return None
    if completion in record or label in record:
        if method in PAIRED:
            return (
                f"a single judged answer (`{completion}`, `{label}`) cannot train `{method}`, "
                f"which learns from pairs: give `{chosen}` and `{rejected}`, or use `kto`"
            )
        if completion not in record or label not in record:
            return f"missing field `{completion if completion not in record else label}`"
        _, problem = _answer(record[completion], completion)
        if problem:
            return problem
        if not isinstance(record[label], bool):
            return f"`{label}` must be true (a wanted answer) or false (an unwanted one)"
        return None
    return f"missing the answers: `{chosen}` and `{rejected}`, or `{completion}` and `{label}`"


def _prompt_problem(value: Any, name: str) -> str | None:
    if isinstance(value, str):
        return None if value.strip() else f"`{name}` is empty"
    if not isinstance(value, list) or not value:
        return f"`{name}` must be text or a non-empty list of {{role, content}}"
    for i, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            return f"`{name}` message {i + 1} must be an object with a string `content`"
        if message.get("role") not in ("system", "user", "assistant"):
            return f"`{name}` message {i + 1} has role {message.get('role')!r}"
    if value[-1]["role"] != "user" or not value[-1]["content"].strip():
        return f"the last message of `{name}` must be the user's question"
    return None


def _answer(value: Any, name: str) -> tuple[str, str | None]:
    """The answer's text, or why it is not one."""
    if isinstance(value, list):
        if len(value) != 1 or not isinstance(value[0], dict) or value[0].get("role") != "assistant":
            return "", f"`{name}` as a conversation must be one message of the assistant"
        value = value[0].get("content")
    if not isinstance(value, str):
        return "", f"`{name}` must be text or one {{role: assistant, content}} message"
    if not value.strip():
        return "", f"`{name}` is empty"
    return value, None


def read_records(
    path: Path, fields: Mapping[str, str] | None = None, method: str = "dpo"
) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) for every non-blank line; DataError lists every bad line."""
    return read_checked(path, lambda record: check_record(record, fields, method))


def to_examples(
    records: Sequence[tuple[int, dict[str, Any]]],
    path: str,
    fields: Mapping[str, str] | None = None,
    prompt: AppPrompt | None = None,
    retrieve: Retrieve | None = None,
) -> list[PreferenceExample]:
    """Examples from checked records: the question rendered through the app prompt when one
    is given (as the served model sees it), else the record's own messages."""
    names = {**DEFAULT_FIELDS, **(fields or {})}
    examples: list[PreferenceExample] = []
    problems: list[tuple[int, str]] = []
    for line, record in records:
        history = _messages(record[names["prompt"]])
        if names["chosen"] in record:
            chosen = _answer(record[names["chosen"]], "")[0]
            rejected = _answer(record[names["rejected"]], "")[0]
        else:
            text = _answer(record[names["completion"]], "")[0]
            chosen, rejected = (text, "") if record[names["label"]] else ("", text)
        where = f"{path}:{line}"
        if prompt is None:
            examples.append(PreferenceExample(tuple(history), chosen, rejected, where))
            continue
        question = history[-1]["content"]
        try:
            messages = render_record(prompt, question, record, retrieve)
        except ValueError as exc:
            problems.append((line, str(exc)))
            continue
        examples.append(PreferenceExample(tuple(messages), chosen, rejected, where))
    if problems:
        raise DataError(path, problems)
    return examples


def _messages(value: Any) -> list[Message]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return [{"role": m["role"], "content": m["content"]} for m in value]


def over_budget(
    examples: Sequence[PreferenceExample], tokenizer: Any, max_length: int
) -> list[tuple[str, int]]:
    """(source, tokens) of every example whose prompt and longer answer exceed ``max_length``
    tokens: cut, its two answers would no longer be compared whole."""
    from llmspec.runtime.prompting import answer_text

    found = []
    for e in examples:
        prompt = len(tokenizer(e.prompt_text(tokenizer), add_special_tokens=False)["input_ids"])
        answers = [
            len(
                tokenizer(answer_text(tokenizer, e.messages, a), add_special_tokens=False)[
                    "input_ids"
                ]
            )
            for a in (e.chosen, e.rejected)
            if a
        ]
        if prompt + max(answers) > max_length:
            found.append((e.source, prompt + max(answers)))
    return found


def trl_rows(
    examples: Sequence[PreferenceExample], method: str, conversational: bool, tokenizer: Any
) -> list[dict[str, Any]]:
    """Rows in TRL's dataset formats: a conversation where the tokenizer has a chat template
    (TRL applies it, as the server does), else the prompt as the model reads it and plain text
    answers. KTO gets one row per answer, labelled; the others one row per pair."""

    def side(text: str) -> Any:
        return [{"role": "assistant", "content": text}] if conversational else text

    rows = []
    for e in examples:
        prompt: Any = list(e.messages) if conversational else e.prompt_text(tokenizer)
        if method != "kto":
            rows.append({"prompt": prompt, "chosen": side(e.chosen), "rejected": side(e.rejected)})
            continue
        for text, label in ((e.chosen, True), (e.rejected, False)):
            if text:
                rows.append({"prompt": prompt, "completion": side(text), "label": label})
    return rows
