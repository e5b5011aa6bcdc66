"""Fine-tuning data: records (chat, instruction, completion) → prompt/answer examples → token ids
with the loss on the answer only, optionally packed.

Records are rendered through the app's own prompt (`prompting.AppPrompt`, with retrieved context
when the template reads `context`), so the model trains on the exact input it is served with.
Light to import: tokenizers and retrievers are passed in.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from llmspec.runtime.prompting import AppPrompt, Message, answer_text, model_input

IGNORE = -100  # label of tokens that carry no loss (the prompt, padding)
ROLES = ("system", "user", "assistant")
DEFAULT_FIELDS = {
    "messages": "messages",
    "instruction": "instruction",
    "input": "input",
    "output": "output",
    "prompt": "prompt",
    "completion": "completion",
}


class DataError(Exception):
    """Records that cannot be trained on: ``problems`` holds (line, message) pairs."""

    def __init__(self, path: str, problems: list[tuple[int, str]]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("; ".join(f"{path}:{line}: {msg}" for line, msg in problems[:5]))


def check_record(record: Any, fmt: str, fields: Mapping[str, str] | None = None) -> str | None:
    """Why a parsed record cannot be used in format ``fmt``, or None."""
    names = {**DEFAULT_FIELDS, **(fields or {})}
    if not isinstance(record, dict):
        return "a record must be a JSON object"
    required = {
        "chat": [names["messages"]],
        "instruction": [names["instruction"], names["output"]],
        "completion": [names["prompt"], names["completion"]],
    }[fmt]
    missing = [f for f in required if f not in record]
    if missing:
        return "missing field " + ", ".join(f"`{f}`" for f in missing)
    if fmt != "chat":
        bad = [f for f in required if not isinstance(record[f], str)]
        return f"`{bad[0]}` must be a string" if bad else None
    messages = record[names["messages"]]
    if not isinstance(messages, list) or not messages:
        return f"`{names['messages']}` must be a non-empty list of {{role, content}}"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            return f"message {i + 1} must be an object with a string `content`"
        if message.get("role") not in ROLES:
            return (
                f"message {i + 1} has role {message.get('role')!r}; use one of {', '.join(ROLES)}"
            )
    if messages[-1]["role"] != "assistant" or not messages[-1]["content"].strip():
        return "the last message must be the assistant's answer (the text the model learns)"
    return None


def read_records(
    path: Path, fmt: str, fields: Mapping[str, str] | None = None
) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) for every non-blank line; DataError lists every bad line."""
    return read_checked(path, lambda record: check_record(record, fmt, fields))


def read_checked(
    path: Path, check: Callable[[Any], str | None]
) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) for every non-blank line of a jsonl file that ``check`` finds no
    problem with; DataError lists every bad line (and an empty file)."""
    records: list[tuple[int, dict[str, Any]]] = []
    problems: list[tuple[int, str]] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append((number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
                continue
            problem = check(record)
            if problem:
                problems.append((number, problem))
            else:
                records.append((number, record))
    if problems:
        raise DataError(str(path), problems)
    if not records:
        raise DataError(str(path), [(1, "the file holds no records")])
    return records


@dataclass(frozen=True)
class Example:
    """One training example: the messages before the answer, and the answer."""

    messages: tuple[Message, ...]
    answer: str
    source: str  # "path:line", for diagnostics
    raw: bool = False  # completion records: plain text, no chat template

    def prompt_text(self, tokenizer: Any) -> str:
        if self.raw:
            return self.messages[0]["content"]
        return model_input(tokenizer, self.messages)

    def answer_text(self, tokenizer: Any) -> str:
        if self.raw:
            return self.answer + (tokenizer.eos_token or "")
        return answer_text(tokenizer, self.messages, self.answer)


Retrieve = Callable[[str], Sequence[Any]]
_E = TypeVar("_E")


def to_examples(
    records: Iterable[tuple[int, dict[str, Any]]],
    path: str,
    fmt: str,
    fields: Mapping[str, str] | None = None,
    prompt: AppPrompt | None = None,
    retrieve: Retrieve | None = None,
) -> list[Example]:
    """Examples from records: through the app prompt when one is given, else as they are."""
    names = {**DEFAULT_FIELDS, **(fields or {})}
    examples: list[Example] = []
    problems: list[tuple[int, str]] = []
    for line, record in records:
        question, answer, history = _question_answer(record, fmt, names)
        where = f"{path}:{line}"
        if prompt is None:
            if fmt == "completion":
                examples.append(
                    Example(({"role": "user", "content": question},), answer, where, True)
                )
            else:
                examples.append(Example(tuple(history), answer, where))
            continue
        try:
            messages = render_record(prompt, question, record, retrieve)
        except ValueError as exc:
            problems.append((line, str(exc)))
            continue
        examples.append(Example(tuple(messages), answer, where))
    if problems:
        raise DataError(path, problems)
    return examples


def render_record(
    prompt: AppPrompt, question: str, record: Mapping[str, Any], retrieve: Retrieve | None
) -> list[Message]:
    """The messages the app's prompt renders for a record's question (its other inputs are the
    record's fields; context is retrieved as the served model retrieves it); ValueError says
    why the record cannot be rendered."""
    missing = [name for name in prompt.inputs[1:] if name not in record]
    if missing:
        raise ValueError(f"the prompt's input `{missing[0]}` is not a field of the record")
    variables = {prompt.inputs[0]: question, **{name: record[name] for name in prompt.inputs[1:]}}
    context = retrieve(question) if retrieve is not None and prompt.uses_context else ()
    try:
        return prompt.render(variables, context)
    except Exception as exc:  # a template error names the record it failed on
        raise ValueError(f"the prompt template fails on this record: {exc}") from exc


def _question_answer(
    record: dict[str, Any], fmt: str, names: Mapping[str, str]
) -> tuple[str, str, list[Message]]:
    if fmt == "chat":
        messages = [{"role": m["role"], "content": m["content"]} for m in record[names["messages"]]]
        users = [m["content"] for m in messages[:-1] if m["role"] == "user"]
        return (users[-1] if users else ""), messages[-1]["content"], messages[:-1]
    if fmt == "instruction":
        question = record[names["instruction"]]
        extra = record.get(names["input"])
        if isinstance(extra, str) and extra.strip():
            question = f"{question}\n\n{extra}"
        return question, record[names["output"]], [{"role": "user", "content": question}]
    prompt = record[names["prompt"]]
    return prompt, record[names["completion"]], [{"role": "user", "content": prompt}]


def split(examples: list[_E], fraction: float, seed: int) -> tuple[list[_E], list[_E]]:
    """(train, validation): a seeded shuffle holds out ``fraction`` (at least one example when
    there are two or more and the fraction is not zero)."""
    if fraction <= 0 or len(examples) < 2:
        return examples, []
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    held = max(1, round(len(examples) * fraction))
    chosen = set(order[:held])
    return (
        [e for i, e in enumerate(examples) if i not in chosen],
        [e for i, e in enumerate(examples) if i in chosen],
    )


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    position_ids: list[int] = field(default_factory=list)  # set when packed

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


def encode(example: Example, tokenizer: Any, max_length: int) -> tuple[Encoded, bool]:
    """Token ids with the loss on the answer only; (encoded, whether it was truncated). The
    prompt and answer are tokenized apart, as the served model sees the prompt alone."""
    prompt = tokenizer(example.prompt_text(tokenizer), add_special_tokens=False)["input_ids"]
    answer = tokenizer(example.answer_text(tokenizer), add_special_tokens=False)["input_ids"]
    truncated = len(prompt) + len(answer) > max_length
    if truncated:  # keep the answer and the end of the prompt, nearest the question
        answer = answer[:max_length]
        prompt = (
            prompt[len(prompt) - (max_length - len(answer)) :] if len(answer) < max_length else []
        )
    return Encoded(list(prompt) + list(answer), [IGNORE] * len(prompt) + list(answer)), truncated


def pack(encoded: Sequence[Encoded], max_length: int) -> list[Encoded]:
    """Short examples packed into sequences of at most ``max_length`` tokens, first-fit by
    decreasing length; positions restart at each example, and `collate` marks the examples so
    none attends to another (`block_causal_mask`)."""
    bins: list[Encoded] = []
    for item in sorted(encoded, key=lambda e: -len(e.input_ids)):
        size = len(item.input_ids)
        target = next((b for b in bins if len(b.input_ids) + size <= max_length), None)
        if target is None:
            target = Encoded([], [], [])
            bins.append(target)
        target.input_ids += item.input_ids
        target.labels += item.labels
        target.position_ids += list(range(size))
    return bins


def collate(batch: Sequence[Encoded], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors for a batch (padding carries no loss and no attention)."""
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids, labels, mask, positions = [], [], [], []
    for e in batch:
        gap = width - len(e.input_ids)
        ids.append(e.input_ids + [pad_id] * gap)
        labels.append(e.labels + [IGNORE] * gap)
        mask.append([1] * len(e.input_ids) + [0] * gap)
        positions.append((e.position_ids or list(range(len(e.input_ids)))) + [0] * gap)
    out = {
        "input_ids": torch.tensor(ids),
        "labels": torch.tensor(labels),
        "attention_mask": torch.tensor(mask),
    }
    if any(e.position_ids for e in batch):
        out["position_ids"] = torch.tensor(positions)
        # example k of a row is segment k + 1 (a new one starts where positions restart); 0 pads
        starts = (out["position_ids"] == 0).long() * out["attention_mask"]
        out["segment_ids"] = torch.cumsum(starts, dim=1) * out["attention_mask"]
    return out


def block_causal_mask(segments: Any) -> Any:
    """A (batch, 1, length, length) boolean mask from `segment_ids`: each token attends to the
    earlier tokens of its own example only, so packed examples train as they would alone.
    Padding attends to itself (a row with nothing to attend to would give NaNs)."""
    import torch

    length = segments.shape[1]
    causal = torch.tril(torch.ones(length, length, dtype=torch.bool, device=segments.device))
    same = (segments[:, :, None] == segments[:, None, :]) & (segments[:, :, None] > 0)
    itself = torch.eye(length, dtype=torch.bool, device=segments.device)
    return ((causal[None] & same) | itself[None])[:, None]
