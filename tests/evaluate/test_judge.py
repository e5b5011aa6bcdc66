"""Judge metrics: grades read from a local model's probabilities (checked against the model's
own logits) or parsed from an endpoint's reply."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspec.kinds.evaluate.judge import Judge, parse_grade

pytest.importorskip("transformers")


@pytest.mark.parametrize(
    ("reply", "scale", "grade"),
    [
        ("4", 5, 4),
        ("Grade: 5/5", 5, 5),
        ("I'd say 7, no, 3", 5, 3),  # the first number in range
        ("10", 10, 10),
        ("0", 5, None),
        ("excellent", 5, None),
        ("", 5, None),
    ],
)
def test_an_endpoints_reply_is_parsed_for_the_first_grade_in_range(
    reply: str, scale: int, grade: int | None
) -> None:
    assert parse_grade(reply, scale) == grade


def test_a_local_judge_scores_the_expected_grade_of_its_own_probabilities(
    model_cache: Path,
) -> None:
    import torch

    rubric = "Does the answer say what the reference says? 3 means yes, 1 means no."
    judge = Judge(
        {"model": {"source": "builtin", "id": "tiny-gpt2"}, "rubric": rubric, "scale": 3},
        Path("."),
        model_cache,
    )
    question, reference, answer = "Who can download invoices?", "Only owners.", "Only owners."
    score = judge.score(question, reference, answer)
    assert score is not None and 0.0 <= score <= 1.0
    # no sampling: the same grade, up to float summation order across torch's threads
    assert judge.score(question, reference, answer) == pytest.approx(score, abs=1e-6)
    # the same figure from the model's logits, computed here without the judge's helper
    chat = judge.chat
    text = (
        chat.tokenizer.apply_chat_template(
            judge.messages(question, reference, answer), add_generation_prompt=True, tokenize=False
        )
        if chat.tokenizer.chat_template
        else judge.messages(question, reference, answer)[0]["content"]
    )
    ids = chat.tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        logits = chat.generator.model(**ids).logits[0, -1]
    grades = [chat.tokenizer("123"[i], add_special_tokens=False)["input_ids"][0] for i in range(3)]
    probabilities = torch.softmax(logits[grades], dim=-1)
    expected = float(sum(p * g for p, g in zip(probabilities, (1, 2, 3), strict=True)))
    assert score == pytest.approx((expected - 1) / 2, abs=1e-6)
