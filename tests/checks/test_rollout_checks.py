"""Rollouts and online judges at validate time: each problem is a coded diagnostic on the line
that caused it, with a hint; the schema refuses steps that cannot be a rollout."""

from __future__ import annotations

import pytest

from tests.checks.test_checks import FULL, found

ROLLOUT = (
    FULL.replace(
        "  metrics: [rouge_l, retrieval_recall@4]\n",
        "  metrics:\n    - rouge_l\n    - retrieval_recall@4\n"
        "    - {name: helpful, function: 'evals:helpful'}\n",
    )
    + """\
  registry: {alias: champion}
  monitoring:
    judges: [{metric: helpful, sample_rate: 0.5}]
  rollout:
    steps: [10, 50, 100]
    guards:
      - {metric: helpful, margin: 0.02}
      - {metric: error_rate, margin: 0.01}
"""
)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.fixture
def files(write):
    write("docs/a.md", "# A\ntext\n")
    write("data/train.jsonl", "{}\n")
    write("data/eval.jsonl", "{}\n")
    write("evals.py", "def helpful(record, prediction):\n    return 1.0\n")
    return write


def test_a_rollout_with_judges_is_clean(files) -> None:
    assert found(files, ROLLOUT) == []


@pytest.mark.parametrize(
    ("old", "new", "code", "needle", "hint"),
    [
        ("- {metric: error_rate,", "- {metric: eror_rate,", "LS467", "eror_rate",
         "did you mean `error_rate`?"),
        ("judges: [{metric: helpful,", "judges: [{metric: helpfull,", "LS466", "helpfull",
         "did you mean `helpful`?"),
        ("judges: [{metric: helpful,", "judges: [{metric: rouge_l,", "LS466", "judges:",
         "`judge` rubric or a `function`"),
        ("  registry: {alias: champion}\n", "  registry: null\n", "LS467", "  rollout:",
         "set `serving.registry`"),
    ],
    ids=["unknown-guard", "unknown-judge", "judge-needs-a-reference", "no-registry"],
)  # fmt: skip
def test_rollout_problems_point_at_their_line(files, old, new, code, needle, hint) -> None:
    text = ROLLOUT.replace(old, new, 1)
    assert text != ROLLOUT
    (diagnostic,) = [d for d in found(files, text) if d.code == code]
    assert diagnostic.span is not None and diagnostic.span.line == line_of(text, needle)
    assert hint in (diagnostic.hint or "")


@pytest.mark.parametrize(
    ("steps", "message"),
    [("[10, 50]", "the last step must be 100"), ("[50, 10, 100]", "steps must increase")],
)
def test_steps_that_are_no_rollout_are_refused(files, steps, message) -> None:
    text = ROLLOUT.replace("steps: [10, 50, 100]", f"steps: {steps}")
    (diagnostic,) = found(files, text)
    assert diagnostic.code.startswith("LS2") and message in diagnostic.message
    assert diagnostic.span is not None and diagnostic.span.line == line_of(text, "steps:")


def test_a_rollout_needs_a_guard(files) -> None:
    text = ROLLOUT.split("    guards:\n")[0]
    (diagnostic,) = found(files, text)
    assert diagnostic.code == "LS202" or "guards" in diagnostic.message
