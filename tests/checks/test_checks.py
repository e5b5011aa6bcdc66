"""Semantic checks: each code fires on its problem, at the right place, and not otherwise."""

from __future__ import annotations

import pytest

from llmspec.api import resolve
from llmspec.core.diagnostics import Severity, SpecError

FULL = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata:
  name: demo
model:
  source: builtin
  id: tiny-gpt2
prompts:
  system: Be brief.
  templates:
    answer:
      template: |
        {{ system }}
        {% for doc in context %}{{ doc.text }}
        {% endfor %}
        Q: {{ question }}
      inputs: [question]
retrieval:
  corpus: {paths: ["docs/*.md"]}
  store: {table: docs}
  top_k: 4
finetune:
  dataset: {train: data/train.jsonl}
evaluation:
  datasets: {golden: data/eval.jsonl}
  metrics: [rouge_l, retrieval_recall@4]
  gates:
    - {metric: rouge_l, op: ">=", value: 0.2}
    - {metric: rouge_l, compare: champion, max_regression: 0.05}
serving:
  targets:
    - {kind: mlflow, port: 5001}
"""


@pytest.fixture
def files(write):
    write("docs/a.md", "# A\ntext\n")
    write("data/train.jsonl", "{}\n")
    write("data/eval.jsonl", "{}\n")
    return write


def found(files, text: str, env: str | None = None):
    path = files("app.yaml", text)
    try:
        return list(resolve(path, env).diagnostics)
    except SpecError as exc:
        return list(exc.diagnostics)


def test_the_full_spec_is_clean(files) -> None:
    assert found(files, FULL) == []


def edit(old: str, new: str) -> str:
    assert old in FULL, old
    return FULL.replace(old, new, 1)


CASES = [
    # (spec text, code, severity, line, col)
    pytest.param(
        edit("        Q: {{ question }}\n", "        Q: {{ question }\n"),
        "LS401",
        "error",
        16,
        9,
        id="template-syntax-inside-block",
    ),
    pytest.param(
        edit("        Q: {{ question }}\n", "        Q: {{ question | shout }}\n"),
        "LS401",
        "error",
        16,
        9,
        id="unknown-filter",
    ),
    pytest.param(
        edit("        Q: {{ question }}\n", "        Q: {{ question }} {{ topic }}\n"),
        "LS402",
        "error",
        16,
        30,
        id="variable-not-provided",
    ),
    pytest.param(
        edit("      inputs: [question]\n", "      inputs: [question, unused]\n"),
        "LS403",
        "warning",
        17,
        26,
        id="input-never-used",
    ),
    pytest.param(
        edit("      inputs: [question]\n", "      inputs: [question]\n  default: anwser\n"),
        "LS404",
        "error",
        18,
        12,
        id="default-template-unknown",
    ),
    pytest.param(
        edit("    - {metric: rouge_l, op:", "    - {metric: bleu, op:"),
        "LS410",
        "error",
        28,
        16,
        id="gate-metric-not-computed",
    ),
    pytest.param(
        edit("serving:\n", "serving:\n  registry: null\n").replace(
            "  targets:\n    - {kind: mlflow, port: 5001}\n", ""
        ),
        "LS411",
        "error",
        29,
        34,
        id="compare-without-registry",
    ),
    pytest.param(
        edit("  metrics: [rouge_l, retrieval_recall@4]", "  metrics: [rouge_l, mrr@8]"),
        "LS413",
        "warning",
        26,
        22,
        id="k-deeper-than-top-k",
    ),
    pytest.param(
        edit("  metrics: [rouge_l,", "  metrics: [{name: x, function: 'nope.mod:f'}, rouge_l,"),
        "LS414",
        "warning",
        26,
        33,
        id="plugin-module-missing",
    ),
    pytest.param(
        edit(
            "model:\n  source: builtin\n  id: tiny-gpt2\n",
            "model:\n  source: openai-compatible\n  base_url: https://x/v1\n  id: m\n",
        ),
        "LS420",
        "error",
        23,
        1,
        id="finetune-api-model",
    ),
    pytest.param(
        edit("finetune:\n", "finetune:\n  method: qlora\n"),
        "LS421",
        "warning",
        23,
        11,
        id="qlora-on-cpu",
    ),
    pytest.param(
        edit("finetune:\n", "finetune:\n  compute: {device: cpu, mixed_precision: bf16}\n"),
        "LS421",
        "warning",
        23,
        43,
        id="bf16-on-cpu",
    ),
    pytest.param(
        edit("finetune:\n", "finetune:\n  method: full\n  lora: {r: 4}\n"),
        "LS422",
        "warning",
        24,
        3,
        id="lora-ignored-by-full",
    ),
    pytest.param(
        edit("data/train.jsonl", "data/trian.jsonl"), "LS430", "error", 23, 20, id="missing-file"
    ),
    pytest.param(
        edit("data/train.jsonl", "../../outside.jsonl"),
        "LS431",
        "error",
        23,
        20,
        id="escapes-repository",
    ),
    pytest.param(
        edit("docs/*.md", "docs/*.txt"), "LS432", "error", 19, 20, id="glob-matches-nothing"
    ),
    pytest.param(
        edit("  top_k: 4\n", "  top_k: 4\n  chunking: {size: 4096}\n"),
        "LS450",
        "error",
        7,
        7,
        id="budget-overflow",
    ),
    pytest.param(
        edit(
            "    - {kind: mlflow, port: 5001}\n",
            "    - {kind: mlflow, port: 5001}\n    - {kind: mlflow, port: 5001}\n",
        ),
        "LS461",
        "error",
        33,
        7,
        id="duplicate-target",
    ),
    pytest.param(
        edit("serving:\n", "serving:\n  registry: null\n").replace(
            "    - {metric: rouge_l, compare: champion, max_regression: 0.05}\n", ""
        ),
        "LS460",
        "error",
        31,
        3,
        id="targets-without-registry",
    ),
    pytest.param(
        edit("model:\n", "governance: {allowed_sources: [hf]}\nmodel:\n"),
        "LS440",
        "error",
        7,
        11,
        id="source-not-allowed",
    ),
]


@pytest.mark.parametrize(("text", "code", "severity", "line", "col"), CASES)
def test_check(files, text, code, severity, line, col) -> None:
    diags = found(files, text)
    match = [d for d in diags if d.code == code]
    assert match, diags
    d = match[0]
    assert d.severity is Severity(severity)
    assert d.span is not None and (d.span.line, d.span.col) == (line, col), d
    others = [x for x in diags if x.code != code and x.is_error]
    assert not others, others


def test_retrieval_metric_without_retrieval(files) -> None:
    start, end = FULL.index("retrieval:\n"), FULL.index("finetune:\n")
    text = FULL[:start] + FULL[end:]
    text = text.replace("{% for doc in context %}{{ doc.text }}\n        {% endfor %}\n", "")
    codes = [d.code for d in found(files, text)]
    assert codes == ["LS412"]


def test_context_without_retrieval_hints_at_retrieval(files) -> None:
    start, end = FULL.index("retrieval:\n"), FULL.index("finetune:\n")
    text = (FULL[:start] + FULL[end:]).replace("rouge_l, retrieval_recall@4", "rouge_l")
    diags = found(files, text)
    assert [d.code for d in diags] == ["LS402"]
    assert "retrieval" in (diags[0].hint or "")


def test_mismatch_points_at_both_places(files) -> None:
    diags = found(files, edit("    - {metric: rouge_l, op:", "    - {metric: rouge_1, op:"))
    d = next(d for d in diags if d.code == "LS410")
    assert d.hint == "did you mean `rouge_l`?"
    assert d.related and d.related[0].span.line == 26


def test_governance_in_an_environment(files) -> None:
    text = FULL + (
        "environments:\n  prod:\n    model: {source: hf, id: org/m}\n"
        "    governance: {require_pinned_revision: true}\n"
    )
    assert found(files, text) == []  # the base spec has no policy
    diags = found(files, text, "prod")
    d = next(d for d in diags if d.code == "LS440")
    assert "pinned" in d.message
    assert d.related[0].span.line == 36 and d.related[0].span.layer == "environments.prod"


def test_budget_message_has_the_arithmetic(files) -> None:
    diags = found(files, edit("  top_k: 4\n", "  top_k: 9\n  chunking: {size: 512}\n"))
    d = next(d for d in diags if d.code == "LS450")
    assert "context 9 × 512 = 4608" in d.message and "4096" in d.message
    assert {r.message for r in d.related} == {"top_k", "chunk size"}


def test_budget_reads_a_local_models_config(files) -> None:
    files("models/m/config.json", '{"max_position_embeddings": 1024}')
    text = edit(
        "model:\n  source: builtin\n  id: tiny-gpt2\n",
        "model:\n  source: local\n  path: models/m\n",
    )
    diags = found(files, text)
    assert [d.code for d in diags] == ["LS450"]
    assert "context window is 1024" in diags[0].message


def test_checks_report_everything_at_once(files) -> None:
    text = edit("data/train.jsonl", "data/nope.jsonl").replace("docs/*.md", "docs/*.txt")
    text = text.replace("{metric: rouge_l, op:", "{metric: bleu, op:")
    assert sorted(d.code for d in found(files, text)) == ["LS410", "LS430", "LS432"]
