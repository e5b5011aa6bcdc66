"""`judge` metrics: another model of the spec (any source) grades each answer by a rubric.

The judge sees the rubric, the question, the reference answer and the answer, and grades from 1
to `scale`; the score is rescaled to 0–1 so gates read it like any other metric. A local judge
(`builtin`, `local`, `hf`) is read for its probability of each grade and scored by the
expected grade (as G-Eval does): no parsing, and a weak judge's uncertainty shows as a middling
score rather than a coin flip. An endpoint judge's reply is parsed for the grade; a reply with no
grade in range leaves that example unscored (kept as missing, not fatal).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROMPT = """\
{rubric}

Question: {question}
Reference answer: {reference}
Answer to grade: {answer}

Grade the answer from 1 to {scale} by the instructions above. Reply with the number only."""
GRADE = re.compile(r"\b([0-9]{1,3})\b")
DECODING = {"max_new_tokens": 8, "temperature": 0.0, "top_p": 1.0, "repetition_penalty": 1.0}


class Judge:
    def __init__(self, judge: Mapping[str, Any], spec_dir: Path, cache_dir: Path) -> None:
        from llmspec.kinds.package.settings import model_config
        from llmspec.runtime.llm import LocalChat, open_chat

        self.rubric = str(judge["rubric"])
        self.scale = int(judge.get("scale", 5))
        model = judge["model"]
        if model["source"] == "openai-compatible":
            self.chat: Any = open_chat(model_config(model), {})
        else:
            from llmspec.runtime.models import model_folder

            folder = model_folder(model, spec_dir, cache_dir, lambda: [PROMPT, self.rubric])
            self.chat = LocalChat(folder, dtype=str(model.get("dtype", "auto")))

    def messages(self, question: str, reference: str, answer: str) -> list[dict[str, str]]:
        text = PROMPT.format(
            rubric=self.rubric.strip(),
            question=question,
            reference=reference,
            answer=answer,
            scale=self.scale,
        )
        return [{"role": "user", "content": text}]

    def score(self, question: str, reference: str, answer: str) -> float | None:
        """The grade rescaled to 0–1 (None when an endpoint's reply holds no grade)."""
        messages = self.messages(question, reference, answer)
        if hasattr(self.chat, "choice_probabilities") and self.scale <= 9:
            grades = [str(g) for g in range(1, self.scale + 1)]
            probabilities = self.chat.choice_probabilities(messages, grades)
            grade = sum(p * g for p, g in zip(probabilities, range(1, self.scale + 1), strict=True))
        else:
            reply = self.chat.complete(messages, DECODING).text
            found = parse_grade(reply, self.scale)
            if found is None:
                return None
            grade = found
        return (grade - 1) / (self.scale - 1) if self.scale > 1 else 1.0


def parse_grade(reply: str, scale: int) -> int | None:
    """The first whole number in ``reply`` within 1..scale."""
    for match in GRADE.finditer(reply):
        value = int(match.group(1))
        if 1 <= value <= scale:
            return value
    return None
