"""Eval examples have identities: the record's `id`, else a hash of its question, so pairing
with the champion does not depend on where a question stands in the file."""

from __future__ import annotations

import random

from llmspec.kinds.evaluate.run import example_ids
from llmspec.kinds.evaluate.stats import paired_difference

RECORDS = [{"question": f"How do I do thing {i}?", "answer": f"Like {i}."} for i in range(40)]


def test_ids_come_from_the_id_field_else_the_question() -> None:
    ids = example_ids("golden", [{"id": 7, "question": "q"}, {"question": "q"}], "question")
    assert ids[0] == "golden:7"
    assert ids[1].startswith("golden:sha256:") and len(ids[1]) == len("golden:sha256:") + 12
    twice = example_ids("golden", [{"question": "same"}, {"question": "same"}], "question")
    assert twice[1] == twice[0] + "#2"


def test_a_shuffled_eval_file_pairs_the_same_examples() -> None:
    rng = random.Random(3)
    champion = {i: rng.random() for i in range(len(RECORDS))}
    challenger = {i: min(1.0, s + rng.uniform(-0.1, 0.2)) for i, s in champion.items()}

    def scored(order: list[int]) -> tuple[dict[str, float], dict[str, float]]:
        ids = example_ids("golden", [RECORDS[i] for i in order], "question")
        return (
            {e: challenger[i] for e, i in zip(ids, order, strict=True)},
            {e: champion[i] for e, i in zip(ids, order, strict=True)},
        )

    before = paired_difference(*scored(list(range(len(RECORDS)))))
    shuffled = list(range(len(RECORDS)))
    rng.shuffle(shuffled)
    new, _ = scored(shuffled)
    _, old = scored(list(range(len(RECORDS))))  # the champion scored the file in its old order
    assert paired_difference(new, old) == before
