"""Preference data before anything trains: every bad record named by file and line, prompts
rendered through the app's template as the server renders them, TRL's row formats; and the
stage in the spec: checked at validate time, planned after the fine-tune it starts from, the
stage's result the one packaged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmspec.api import resolve
from llmspec.core.diagnostics import SpecError
from llmspec.engine.workspace import open_workspace
from llmspec.runtime.preference_data import (
    PreferenceExample,
    check_record,
    read_records,
    to_examples,
    trl_rows,
)
from llmspec.runtime.prompting import AppPrompt
from llmspec.runtime.sft_data import DataError
from tests.checks.test_checks import FULL

PAIR = {"prompt": "Where is room 4?", "chosen": "Upstairs.", "rejected": "I do not know."}


@pytest.mark.parametrize(
    ("record", "method", "problem"),
    [
        ({**PAIR, "chosen": "  "}, "dpo", "`chosen` is empty"),
        ({**PAIR, "rejected": " Upstairs. "}, "dpo", "are the same answer"),
        ({"prompt": "Q?", "chosen": "A."}, "dpo", "missing field `rejected`"),
        ({**PAIR, "prompt": ""}, "dpo", "`prompt` is empty"),
        ({"prompt": "Q?", "completion": "A.", "label": True}, "dpo", "cannot train `dpo`"),
        ({"prompt": "Q?", "completion": "A.", "label": "yes"}, "kto", "must be true"),
        ({"prompt": "Q?"}, "dpo", "missing the answers"),
        ({**PAIR, "chosen": [{"role": "user", "content": "x"}]}, "dpo", "one message of the"),
        ({**PAIR, "prompt": [{"role": "assistant", "content": "x"}]}, "orpo", "must be the user's"),
        ([PAIR], "dpo", "a JSON object"),
    ],
    ids=["empty-side", "identical", "half-pair", "empty-prompt", "unpaired-for-dpo",
         "label-not-bool", "no-answers", "answer-from-user", "prompt-ends-with-answer", "list"],
)  # fmt: skip
def test_a_record_that_cannot_train_says_why(record, method, problem) -> None:
    assert problem in (check_record(record, None, method) or "")


def test_good_records_pass_in_text_conversation_and_kto_forms() -> None:
    conversation = {
        "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q?"}],
        "chosen": [{"role": "assistant", "content": "A."}],
        "rejected": [{"role": "assistant", "content": "B."}],
    }
    assert check_record(PAIR) is None and check_record(conversation, None, "orpo") is None
    assert check_record({"prompt": "Q?", "completion": "A.", "label": False}, None, "kto") is None
    renamed = {"question": "Q?", "good": "A.", "bad": "B."}
    fields = {"prompt": "question", "chosen": "good", "rejected": "bad"}
    assert check_record(renamed, fields) is None


def test_every_bad_line_of_a_file_is_reported_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    lines = [json.dumps(PAIR), "", "{not json", json.dumps({**PAIR, "rejected": "Upstairs."})]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as caught:
        read_records(path)
    assert [line for line, _ in caught.value.problems] == [3, 4]
    assert "not valid JSON" in caught.value.problems[0][1]


def test_prompts_render_through_the_app_template_and_keep_their_line() -> None:
    prompt = AppPrompt.from_dict(
        {"system": "Be brief.", "inputs": ["question"], "template": "Q: {{ question }}\nA:"}
    )
    records = [(1, PAIR), (2, {"prompt": "Q2?", "completion": "No.", "label": False})]
    pair, single = to_examples(records, "pairs.jsonl", None, prompt)
    assert pair.messages[-1]["content"] == "Q: Where is room 4?\nA:"
    assert pair.source == "pairs.jsonl:1" and pair.paired
    assert (single.chosen, single.rejected, single.paired) == ("", "No.", False)


def test_trl_rows_are_conversations_or_text_and_kto_rows_are_labelled() -> None:
    example = PreferenceExample(({"role": "user", "content": "Q?"},), "A.", "B.", "p:1")

    class NoTemplate:
        chat_template = None
        eos_token = "</s>"

    text = trl_rows([example], "dpo", False, NoTemplate())
    assert text == [{"prompt": "Q?", "chosen": "A.", "rejected": "B."}]
    (row,) = trl_rows([example], "orpo", True, None)
    assert row["chosen"] == [{"role": "assistant", "content": "A."}]
    labelled = trl_rows([example], "kto", True, None)
    assert [(r["completion"][0]["content"], r["label"]) for r in labelled] == [
        ("A.", True),
        ("B.", False),
    ]


STAGE = FULL.replace(
    "finetune:\n  dataset: {train: data/train.jsonl}\n",
    "finetune:\n  dataset: {train: data/train.jsonl}\n  preference:\n    method: dpo\n"
    "    dataset: {train: data/pairs.jsonl}\n",
)


@pytest.fixture
def files(write):
    write("docs/a.md", "# A\ntext\n")
    write("data/train.jsonl", "{}\n")
    write("data/eval.jsonl", "{}\n")
    write("data/pairs.jsonl", json.dumps(PAIR) + "\n")
    return write


def graph(path: Path, *overrides: str):
    return open_workspace(resolve(path, None, list(overrides))).graph().resources


def test_the_stage_follows_the_fine_tune_and_is_what_gets_packaged(files) -> None:
    resources = graph(files("app.yaml", STAGE))
    order = list(resources)  # dependencies first
    stage = "finetune.demo.preference"
    assert order.index("finetune.demo") < order.index(stage) < order.index("package.demo")
    assert order.index("dataset.preference-train") < order.index(stage)
    graph_ = resources
    assert "finetune.demo" in graph_[stage].deps
    package = graph_["package.demo"].deps
    assert stage in package and "finetune.demo" not in package


def test_changing_the_stage_leaves_the_fine_tune_as_it_is(files) -> None:
    path = files("app.yaml", STAGE)
    one, two = graph(path), graph(path, "finetune.preference.beta=0.3")
    assert one["finetune.demo"].inputs_digest == two["finetune.demo"].inputs_digest
    stage = "finetune.demo.preference"
    assert one[stage].inputs_digest != two[stage].inputs_digest


def test_a_setting_the_method_ignores_is_a_warning_on_its_line(files) -> None:
    text = STAGE.replace("    method: dpo\n", "    method: orpo\n    loss_type: ipo\n")
    (warning,) = [d for d in resolve(files("app.yaml", text)).diagnostics if d.code == "LS422"]
    assert "ignored by `method: orpo`" in warning.message
    assert "`method: dpo`" in (warning.hint or "")
    assert warning.span is not None
    assert warning.span.line == text.splitlines().index("    loss_type: ipo") + 1


def test_a_missing_pairs_file_and_a_stage_on_ray_are_refused(files) -> None:
    missing = STAGE.replace("data/pairs.jsonl", "data/nowhere.jsonl")
    with pytest.raises(SpecError) as caught:
        resolve(files("app.yaml", missing))
    assert [d.code for d in caught.value.diagnostics] == ["LS430"]
    on_ray = STAGE.replace("  preference:\n", "  compute: {backend: ray}\n  preference:\n")
    with pytest.raises(SpecError) as caught:
        resolve(files("app.yaml", on_ray))
    assert "backend: local" in caught.value.diagnostics[0].message
