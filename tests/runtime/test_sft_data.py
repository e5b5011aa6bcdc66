"""Fine-tune data: record checks with line numbers, the three formats, rendering through the app
prompt (with retrieved context), the answer-only loss mask, truncation, packing and the split."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from llmspec.runtime.prompting import AppPrompt, model_input
from llmspec.runtime.sft_data import (
    IGNORE,
    DataError,
    Example,
    check_record,
    encode,
    pack,
    read_records,
    split,
    to_examples,
)

CHAT = {"messages": [{"role": "user", "content": "Q1?"}, {"role": "assistant", "content": "A1."}]}
APP = AppPrompt.from_dict(
    {
        "system": "Answer from the context.",
        "template": "{{ system }}\n{% for d in context %}- {{ d.text }}\n{% endfor %}"
        "Q: {{ question }}\nA:",
        "inputs": ["question"],
    }
)


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("record", "fmt", "problem"),
    [
        (CHAT, "chat", None),
        ({"messages": []}, "chat", "non-empty list"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "chat", "last message must be"),
        ({"messages": [{"role": "bot", "content": "hi"}]}, "chat", "role 'bot'"),
        ({"messages": [{"role": "user"}]}, "chat", "string `content`"),
        ({"instruction": "Sum", "output": "2"}, "instruction", None),
        ({"instruction": "Sum"}, "instruction", "missing field `output`"),
        ({"prompt": "1+1=", "completion": 2}, "completion", "`completion` must be a string"),
        ([1, 2], "chat", "JSON object"),
    ],
)
def test_records_are_checked(record: object, fmt: str, problem: str | None) -> None:
    found = check_record(record, fmt)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_every_bad_line_is_reported_with_its_number(tmp_path: Path) -> None:
    path = write(tmp_path, [json.dumps(CHAT), "{not json", "", json.dumps({"messages": []})])
    with pytest.raises(DataError) as caught:
        read_records(path, "chat")
    assert [line for line, _ in caught.value.problems] == [2, 4]
    assert "not valid JSON" in caught.value.problems[0][1]


def test_field_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, [json.dumps({"q": "Sum 1 and 1", "a": "2"})])
    records = read_records(path, "instruction", {"instruction": "q", "output": "a"})
    (example,) = to_examples(
        records, "train.jsonl", "instruction", {"instruction": "q", "output": "a"}
    )
    assert example.answer == "2" and example.messages[-1]["content"] == "Sum 1 and 1"
    assert example.source == "train.jsonl:1"


def test_records_render_through_the_app_prompt_with_retrieved_context() -> None:
    asked: list[str] = []

    def retrieve(question: str) -> list[SimpleNamespace]:
        asked.append(question)
        return [SimpleNamespace(text="Links last 30 minutes.", source="a.md", score=1.0)]

    records = [(1, CHAT), (2, {"instruction": "Why?", "input": "Because.", "output": "So."})]
    chat = to_examples(records[:1], "t.jsonl", "chat", prompt=APP, retrieve=retrieve)[0]
    assert chat.messages == (
        {
            "role": "user",
            "content": "Answer from the context.\n- Links last 30 minutes.\nQ: Q1?\nA:",
        },
    )
    assert chat.answer == "A1." and asked == ["Q1?"]
    instruction = to_examples(records[1:], "t.jsonl", "instruction", prompt=APP, retrieve=retrieve)
    assert "Q: Why?\n\nBecause.\nA:" in instruction[0].messages[0]["content"]


def test_a_template_input_missing_from_a_record_names_the_line() -> None:
    prompt = AppPrompt("", "{{ question }} for {{ product }}", (), ("question", "product"))
    with pytest.raises(DataError) as caught:
        to_examples([(7, CHAT)], "t.jsonl", "chat", prompt=prompt)
    assert caught.value.problems == [
        (7, "the prompt's input `product` is not a field of the record")
    ]


def test_raw_chat_keeps_the_conversation_and_completion_is_plain_text() -> None:
    talk = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Bye"},
            {"role": "assistant", "content": "Goodbye."},
        ]
    }
    (example,) = to_examples([(1, talk)], "t.jsonl", "chat")
    assert len(example.messages) == 4 and example.answer == "Goodbye."
    (plain,) = to_examples([(1, {"prompt": "1+1=", "completion": "2"})], "t.jsonl", "completion")
    assert plain.raw
    tokenizer = SimpleNamespace(eos_token="</s>")
    assert plain.prompt_text(tokenizer) == "1+1=" and plain.answer_text(tokenizer) == "2</s>"


def test_the_split_is_seeded_and_holds_out_at_least_one() -> None:
    examples = [
        Example(({"role": "user", "content": str(i)},), str(i), f"t:{i}") for i in range(20)
    ]
    train, held = split(examples, 0.1, seed=3)
    assert len(held) == 2 and len(train) == 18
    assert split(examples, 0.1, seed=3) == (train, held)
    assert split(examples, 0.1, seed=4)[1] != held
    assert len(split(examples[:3], 0.01, seed=0)[1]) == 1
    assert split(examples, 0.0, seed=0) == (examples, [])


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> object:
    pytest.importorskip("transformers")
    from transformers import AutoTokenizer

    from llmspec.runtime.builtin import build_tiny_gpt2

    texts = ["How long is the link valid?", "30 minutes.", "Q: A: context"] * 10
    folder = build_tiny_gpt2(texts, 0, tmp_path_factory.mktemp("tiny"))
    return AutoTokenizer.from_pretrained(folder)


def test_the_loss_covers_the_answer_and_end_of_turn_only(tokenizer: object) -> None:
    example = Example(
        ({"role": "user", "content": "How long is the link valid?"},), "30 minutes.", "t:1"
    )
    encoded, truncated = encode(example, tokenizer, 512)
    assert not truncated
    prompt = model_input(tokenizer, example.messages)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]  # type: ignore[operator]
    n = len(prompt_ids)
    assert encoded.input_ids[:n] == prompt_ids
    assert encoded.labels[:n] == [IGNORE] * n
    learned = tokenizer.decode(encoded.labels[n:])  # type: ignore[attr-defined]
    assert learned == "30 minutes.<|endoftext|>"  # the chat template's end of turn


def test_truncation_keeps_the_answer_and_the_end_of_the_prompt(tokenizer: object) -> None:
    long = Example(
        ({"role": "user", "content": "context " * 200 + "How long?"},), "30 minutes.", "t"
    )
    encoded, truncated = encode(long, tokenizer, 32)
    assert truncated and len(encoded.input_ids) == 32
    text = tokenizer.decode(encoded.input_ids)  # type: ignore[attr-defined]
    assert text.endswith("How long?<|endoftext|><|assistant|>30 minutes.<|endoftext|>")


def test_packing_fills_sequences_and_restarts_positions(tokenizer: object) -> None:
    examples = [
        Example(({"role": "user", "content": f"Question {i}?"},), "30 minutes.", f"t:{i}")
        for i in range(10)
    ]
    encoded = [encode(e, tokenizer, 64)[0] for e in examples]
    packed = pack(encoded, 64)
    assert len(packed) < len(encoded)
    assert all(len(p.input_ids) <= 64 for p in packed)
    assert sum(p.trained_tokens for p in packed) == sum(e.trained_tokens for e in encoded)
    assert sum(p.position_ids.count(0) for p in packed) == len(encoded)


def test_collate_pads_without_loss_or_attention(tokenizer: object) -> None:
    from llmspec.runtime.sft_data import collate

    short = encode(Example(({"role": "user", "content": "Hi"},), "Yes.", "t"), tokenizer, 64)[0]
    long = encode(Example(({"role": "user", "content": "Hi " * 9},), "Yes.", "t"), tokenizer, 64)[0]
    batch = collate([short, long], pad_id=1)
    width = len(long.input_ids)
    assert batch["input_ids"].shape == (2, width)
    gap = width - len(short.input_ids)
    assert batch["labels"][0, -gap:].tolist() == [IGNORE] * gap
    assert batch["attention_mask"][0].sum().item() == len(short.input_ids)
    assert "position_ids" not in batch


def test_packed_examples_see_only_themselves(tokenizer: object, tmp_path: Path) -> None:
    """The loss of a packed row is the loss its examples have alone: each token attends to its
    own example only (block-causal mask from `segment_ids`), with positions restarting."""
    import torch
    from transformers import AutoModelForCausalLM

    from llmspec.runtime.builtin import build_tiny_gpt2
    from llmspec.runtime.sft_data import block_causal_mask, collate

    texts = ["How long is the link valid?", "30 minutes.", "Q: A: context"] * 10
    model = AutoModelForCausalLM.from_pretrained(build_tiny_gpt2(texts, 0, tmp_path)).eval()
    examples = [
        Example(({"role": "user", "content": q},), a, "t")
        for q, a in [("How long?", "30 minutes."), ("Is the link valid?", "Yes."), ("Q:", "A")]
    ]
    encoded = [encode(e, tokenizer, 64)[0] for e in examples]
    batch = collate(pack(encoded, 64), pad_id=1)
    assert batch["segment_ids"].max().item() == 3
    with torch.no_grad():
        packed = model(
            input_ids=batch["input_ids"],
            position_ids=batch["position_ids"],
            attention_mask=block_causal_mask(batch["segment_ids"]),
        ).logits[0]
        offset = 0
        for item in sorted(encoded, key=lambda e: -len(e.input_ids)):  # pack's order
            alone = model(input_ids=torch.tensor([item.input_ids])).logits[0]
            width = len(item.input_ids)
            assert torch.allclose(packed[offset : offset + width], alone, atol=1e-4)
            offset += width


def test_request_overrides_stay_within_the_limits() -> None:
    from llmspec.runtime.contracts import GenerationConfig, LimitsConfig
    from llmspec.runtime.pyfunc import bounded

    defaults = GenerationConfig(64, 0.2, 0.9, 1.0, ())
    limits = LimitsConfig(max_new_tokens=128, max_temperature=1.0)
    assert bounded(defaults, None, limits)["max_new_tokens"] == 64
    asked = bounded(defaults, {"max_new_tokens": 100_000, "temperature": 5, "top_p": 0}, limits)
    assert (asked["max_new_tokens"], asked["temperature"], asked["top_p"]) == (128, 1.0, 0.01)


def test_the_pyfunc_reads_every_input_shape_mlflow_hands_it() -> None:
    import numpy as np
    import pandas as pd

    from llmspec.runtime.pyfunc import _records

    question = "Who can change the billing contact?"
    expected = [{"question": question}]
    assert _records(pd.DataFrame({"question": [question]})) == expected
    assert _records({"question": np.array([question])}) == expected  # MLflow's lists
    assert _records({"question": [question]}) == expected
    assert _records({"question": question}) == expected
    assert _records([{"question": question}]) == expected
