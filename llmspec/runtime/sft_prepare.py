"""Turn a fine-tune job's datasets into train/validation examples, through the app's prompt.

Run once per fine-tune, before training (by `apply`, or by the entrypoint itself on a cluster),
and saved as jsonl so every training process reads the same examples.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from llmspec.runtime.contracts import JobConfig
from llmspec.runtime.preference_data import PreferenceExample
from llmspec.runtime.prompting import AppPrompt
from llmspec.runtime.sft_data import Example, Retrieve, read_records, split, to_examples


def app_prompt(job: JobConfig) -> AppPrompt | None:
    """The prompt records are rendered through, or None to train on the raw records."""
    if not job.dataset.use_app_prompt:
        return None
    return AppPrompt.from_config(job.prompt)


def retriever(job: JobConfig, uri: str, version: int | None) -> Retrieve:
    """Search the app's index the way the served model does (same table version, top_k)."""
    from llmspec.runtime.retrieval import Retriever

    assert job.retrieval is not None
    searcher = Retriever.from_config(job.retrieval, uri, version)
    return lambda question: searcher.search(question)


def prepare(
    job: JobConfig,
    workdir: Path,
    *,
    index_uri: str | None = None,
    index_version: int | None = None,
) -> tuple[list[Example], list[Example]]:
    """(train, validation) examples; paths in the job are relative to ``workdir``. Raises
    sft_data.DataError with the lines of records that cannot be used."""
    data = job.dataset
    prompt = app_prompt(job)
    retrieve = None
    if prompt is not None and prompt.uses_context and job.retrieval is not None:
        retrieve = retriever(job, index_uri or job.retrieval.uri, index_version)

    def load(path: str) -> list[Example]:
        records = read_records(workdir / path, data.format, data.fields)
        return to_examples(records, path, data.format, data.fields, prompt, retrieve)

    train = load(data.train)
    if data.validation:
        return train, load(data.validation)
    return split(train, float(data.validation_split), int(job.training.seed))


def prepare_preference(
    job: JobConfig,
    workdir: Path,
    *,
    index_uri: str | None = None,
    index_version: int | None = None,
) -> tuple[list[PreferenceExample], list[PreferenceExample]]:
    """(train, validation) preference examples, rendered as `prepare` renders SFT records."""
    from llmspec.runtime import preference_data

    data = job.dataset
    prompt = app_prompt(job)
    retrieve = None
    if prompt is not None and prompt.uses_context and job.retrieval is not None:
        retrieve = retriever(job, index_uri or job.retrieval.uri, index_version)

    def load(path: str) -> list[PreferenceExample]:
        records = preference_data.read_records(workdir / path, data.fields, job.objective)
        return preference_data.to_examples(records, path, data.fields, prompt, retrieve)

    train = load(data.train)
    if data.validation:
        return train, load(data.validation)
    return split(train, float(data.validation_split), int(job.training.seed))


def write_examples(path: Path, train: Sequence[Example], validation: Sequence[Example]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for part, examples in (("train", train), ("validation", validation)):
            for e in examples:
                row = {"split": part, "messages": list(e.messages), "answer": e.answer}
                handle.write(json.dumps({**row, "source": e.source, "raw": e.raw}) + "\n")


def read_examples(path: Path) -> tuple[list[Example], list[Example]]:
    parts: dict[str, list[Example]] = {"train": [], "validation": []}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            example = Example(tuple(row["messages"]), row["answer"], row["source"], row["raw"])
            parts[row["split"]].append(example)
    return parts["train"], parts["validation"]


def tokenizer_texts(examples: Sequence[Example]) -> list[str]:
    """What the built-in tiny model's tokenizer is trained on: every prompt and answer."""
    return [m["content"] for e in examples for m in e.messages] + [e.answer for e in examples]
