"""The spec models: defaults, unions, and pydantic errors turned into positioned diagnostics."""

from __future__ import annotations

import pytest

from llmspec.api import resolve
from llmspec.core.diagnostics import SpecError
from llmspec.spec import Spec
from tests.conftest import MINIMAL


def test_minimal_spec_is_valid_with_defaults(write) -> None:
    spec = resolve(write("app.yaml")).spec
    assert spec.model.source == "builtin"
    assert spec.serving.registry is not None and spec.serving.registry.alias == "champion"
    assert spec.registered_name == "demo"
    assert spec.tracking.uri is None  # decided when a workspace opens (core.tracking)
    assert spec.retrieval is None and spec.finetune is None and spec.evaluation is None


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(
            {"source": "hf", "id": "org/m", "revision": "abc1234", "dtype": "bfloat16"}, id="hf"
        ),
        pytest.param({"source": "local", "path": "models/x"}, id="local"),
        pytest.param({"source": "builtin", "id": "smollm2-135m-instruct"}, id="builtin"),
        pytest.param(
            {
                "source": "openai-compatible",
                "base_url": "https://x/v1",
                "id": "m",
                "api_key": "${secret:K}",
            },
            id="openai-compatible",
        ),
    ],
)
def test_each_model_source(model: dict[str, object]) -> None:
    data = {
        "apiVersion": "llmspec/v1",
        "kind": "LLMApp",
        "metadata": {"name": "x"},
        "model": model,
        "prompts": {"templates": {"a": {"template": "{{ question }}"}}},
    }
    assert Spec.model_validate(data).model.source == model["source"]


def test_metric_and_dataset_shorthands() -> None:
    data = {
        "apiVersion": "llmspec/v1",
        "kind": "LLMApp",
        "metadata": {"name": "x"},
        "model": {"source": "builtin", "id": "tiny-gpt2"},
        "prompts": {"templates": {"a": {"template": "{{ question }}"}}},
        "evaluation": {
            "datasets": {"golden": "e.jsonl"},
            "metrics": ["rouge_l", "mrr@3", {"name": "mine", "function": "m:f"}],
            "gates": [
                {"metric": "rouge_l", "op": ">=", "value": 0.3},
                {"metric": "rouge_l", "compare": "champion", "max_regression": 0.02},
            ],
        },
    }
    evaluation = Spec.model_validate(data).evaluation
    assert evaluation is not None
    assert evaluation.datasets["golden"].path == "e.jsonl"
    assert [m.name for m in evaluation.metrics] == ["rouge_l", "mrr@3", "mine"]
    assert evaluation.gates[1].compare == "champion"


def diagnostics(write, text: str):
    with pytest.raises(SpecError) as info:
        resolve(write("app.yaml", text))
    return info.value.diagnostics


CASES = [
    # (replace this, with this, code, line, col, hint fragment)
    pytest.param(
        "  id: tiny-gpt2\n",
        "  id: tiny-gpt2\n  sed: 1\n",
        "LS201",
        8,
        3,
        "`seed`",
        id="unknown-key-suggests",
    ),
    pytest.param(
        "metadata:\n",
        "metdata: {}\nmetadata:\n",
        "LS201",
        3,
        1,
        "`metadata`",
        id="unknown-top-level-key",
    ),
    pytest.param(
        "  source: builtin\n",
        "  source: bultin\n",
        "LS204",
        6,
        11,
        "`builtin`",
        id="unknown-source-suggests",
    ),
    pytest.param(
        "  id: tiny-gpt2\n",
        "  id: tiny-gtp2\n",
        "LS204",
        7,
        7,
        "`tiny-gpt2`",
        id="unknown-builtin-suggests",
    ),
    pytest.param("  source: builtin\n", "", "LS202", 5, 1, "one of", id="missing-discriminator"),
    pytest.param(
        "metadata:\n  name: demo\n",
        "metadata:\n  owner: me\n",
        "LS202",
        3,
        1,
        "name",
        id="missing-required",
    ),
    pytest.param(
        "  id: tiny-gpt2\n",
        "  id: tiny-gpt2\n  generation: {max_new_tokens: lots}\n",
        "LS203",
        8,
        32,
        "without quotes",
        id="wrong-type",
    ),
    pytest.param(
        "  id: tiny-gpt2\n",
        "  id: tiny-gpt2\n  generation: {temperature: 3}\n",
        "LS205",
        8,
        29,
        None,
        id="out-of-range",
    ),
    pytest.param("  name: demo\n", "  name: Demo_App\n", "LS205", 4, 9, "lowercase", id="bad-name"),
    pytest.param(
        "      template:",
        "      messages: []\n      template:",
        "LS206",
        10,
        5,
        None,
        id="template-and-messages",
    ),
    pytest.param("kind: LLMApp\n", "kind: LLMAp\n", "LS204", 2, 7, "`LLMApp`", id="kind"),
]


@pytest.mark.parametrize(("old", "new", "code", "line", "col", "hint"), CASES)
def test_schema_errors_are_positioned(write, old, new, code, line, col, hint) -> None:
    assert old in MINIMAL
    found = diagnostics(write, MINIMAL.replace(old, new, 1))
    match = [d for d in found if d.code == code]
    assert match, found
    span = match[0].span
    assert span is not None and (span.line, span.col) == (line, col), match[0]
    if hint:
        assert hint in (match[0].hint or ""), match[0]


def test_yaml_12_booleans_are_strict(write) -> None:
    text = MINIMAL + (
        "retrieval:\n  corpus: {paths: ['*.md']}\n  store: {table: t, full_text: yes}\n"
    )
    found = diagnostics(write, text)
    d = next(d for d in found if d.code == "LS203")
    assert "true" in (d.hint or "") and d.span is not None and d.span.line == 14


def test_every_schema_error_is_reported_at_once(write) -> None:
    text = MINIMAL.replace("  id: tiny-gpt2\n", "  id: tiny-gpt2\n  sed: 1\n  dtyp: x\n")
    text += "finetune:\n  method: lorra\n  dataset: {train: t.jsonl}\n  training: {epochs: three}\n"
    codes = sorted(d.code for d in diagnostics(write, text))
    assert codes == ["LS201", "LS201", "LS203", "LS204"]


def test_mixed_precision_no_is_text(write) -> None:
    write("t.jsonl", "{}\n")
    text = MINIMAL + "finetune:\n  dataset: {train: t.jsonl}\n  compute: {mixed_precision: no}\n"
    spec = resolve(write("app.yaml", text)).spec
    assert spec.finetune is not None and spec.finetune.compute.mixed_precision == "no"


def test_builtin_ids_match_the_catalog() -> None:
    from typing import get_args

    from llmspec.spec.catalog import BUILTIN_MODELS
    from llmspec.spec.model import BuiltinId

    assert set(get_args(BuiltinId)) == set(BUILTIN_MODELS)
