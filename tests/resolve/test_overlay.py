"""Environments, overlay files and --set overrides, with provenance kept."""

from __future__ import annotations

import pytest

from llmspec.api import load, resolve
from llmspec.core.diagnostics import SpecError
from tests.conftest import MINIMAL

WITH_ENVS = (
    MINIMAL
    + """\
finetune:
  dataset: {train: train.jsonl}
  training: {epochs: 3, learning_rate: 2e-4}
  compute: {mixed_precision: bf16, num_processes: 1}
environments:
  dev:
    finetune: {training: {epochs: 1}}
  prod:
    model: {source: hf, id: org/model, revision: abc1234}
    finetune: {compute: {num_processes: 8, strategy: fsdp}}
"""
)


@pytest.fixture
def spec(write):
    write("train.jsonl", '{"messages": []}\n')
    return write("app.yaml", WITH_ENVS)


def error_codes(exc: SpecError) -> list[str]:
    return [d.code for d in exc.diagnostics]


def test_env_deep_merges_onto_base(spec) -> None:
    dev = resolve(spec, "dev").spec
    assert dev.finetune is not None
    assert dev.finetune.training.epochs == 1
    assert dev.finetune.training.learning_rate == 2e-4  # kept from the base
    base = resolve(spec).spec
    assert base.finetune is not None and base.finetune.training.epochs == 3


def test_changing_source_replaces_the_section(spec) -> None:
    prod = resolve(spec, "prod").spec
    assert prod.model.source == "hf"
    assert prod.model.revision == "abc1234"  # type: ignore[union-attr]


def test_provenance_points_at_the_overlay_line(spec) -> None:
    prod = resolve(spec, "prod")
    span = prod.document.values[("finetune", "compute", "num_processes")]
    assert (span.line, span.layer) == (21, "environments.prod")
    kept = prod.document.values[("finetune", "compute", "mixed_precision")]
    assert (kept.line, kept.layer) == (15, "base")


def test_overlay_file_beside_the_spec(spec, write) -> None:
    write("app.staging.yaml", "finetune:\n  training: {epochs: 5}\n")
    assert "staging" in load(spec).environments
    staging = resolve(spec, "staging")
    assert staging.spec.finetune is not None and staging.spec.finetune.training.epochs == 5
    span = staging.document.values[("finetune", "training", "epochs")]
    assert span.file.endswith("app.staging.yaml") and span.line == 2


def test_inline_env_then_overlay_file(spec, write) -> None:
    write("app.dev.yaml", "finetune:\n  training: {epochs: 7}\n")
    dev = resolve(spec, "dev").spec
    assert dev.finetune is not None and dev.finetune.training.epochs == 7


def test_unknown_environment_suggests(spec) -> None:
    with pytest.raises(SpecError) as info:
        resolve(spec, "prd")
    diag = info.value.diagnostics[0]
    assert diag.code == "LS306" and diag.hint == "did you mean `prod`?"


def test_environment_cannot_rename_the_app(write) -> None:
    path = write("app.yaml", MINIMAL + "environments:\n  dev:\n    metadata: {name: other}\n")
    with pytest.raises(SpecError) as info:
        resolve(path, "dev")
    diag = info.value.diagnostics[0]
    assert diag.code == "LS308" and diag.span is not None and diag.span.line == 14
    assert diag.related[0].span.line == 4


def test_overlay_section_typo_is_reported(write) -> None:
    path = write("app.yaml", MINIMAL + "environments:\n  dev:\n    modle: {id: x}\n")
    with pytest.raises(SpecError) as info:
        resolve(path, "dev")
    diag = info.value.diagnostics[0]
    assert diag.code == "LS201" and diag.hint == "did you mean `model`?"


@pytest.mark.parametrize(
    ("override", "path", "expected"),
    [
        pytest.param(
            "finetune.training.epochs=2", ("finetune", "training", "epochs"), 2, id="change"
        ),
        pytest.param(
            "finetune.training.learning_rate=1e-5",
            ("finetune", "training", "learning_rate"),
            1e-5,
            id="float",
        ),
        pytest.param(
            "+finetune.training.max_steps=10", ("finetune", "training", "max_steps"), 10, id="add"
        ),
        pytest.param(
            "++finetune.training.epochs=4",
            ("finetune", "training", "epochs"),
            4,
            id="force-add-existing",
        ),
        pytest.param("++metadata.owner=me", ("metadata", "owner"), "me", id="force-add-new"),
        pytest.param(
            "++prompts.templates.answer.inputs=[question,topic]",
            ("prompts", "templates", "answer", "inputs"),
            ["question", "topic"],
            id="list",
        ),
        pytest.param(
            "~finetune.compute.mixed_precision",
            ("finetune", "compute", "mixed_precision"),
            "no",
            id="delete-falls-back-to-default",
        ),
    ],
)
def test_set_overrides(spec, override, path, expected) -> None:
    resolved = resolve(spec, None, [override])
    node = resolved.spec.model_dump()
    for part in path:
        node = node[part]
    assert node == expected
    if not override.startswith("~"):
        assert resolved.document.values[path].layer == "--set"


def test_set_applies_after_environment(spec) -> None:
    dev = resolve(spec, "dev", ["finetune.training.epochs=9"]).spec
    assert dev.finetune is not None and dev.finetune.training.epochs == 9


@pytest.mark.parametrize(
    ("override", "hint_part"),
    [
        pytest.param("finetune.training.epoch=2", "did you mean `epochs`", id="typo"),
        pytest.param("+finetune.training.epochs=2", "to change it", id="add-existing"),
        pytest.param("finetune.nothing.deep=1", "create the parent", id="missing-parent"),
        pytest.param("a b=1", "KEY=VALUE", id="grammar"),
        pytest.param("finetune.training.epochs=1,2", "quote values", id="sweep"),
        pytest.param("~finetune.training.nope", None, id="delete-missing"),
    ],
)
def test_bad_overrides(spec, override, hint_part) -> None:
    with pytest.raises(SpecError) as info:
        resolve(spec, None, [override])
    diag = info.value.diagnostics[0]
    assert diag.code == "LS307"
    assert diag.span is not None and diag.span.file == "--set #1"
    if hint_part:
        assert hint_part in (diag.hint or "")


def test_bad_set_value_is_reported_against_the_override(spec) -> None:
    with pytest.raises(SpecError) as info:
        resolve(spec, None, ["finetune.training.epochs=many"])
    diag = info.value.diagnostics[0]
    assert diag.code == "LS203" and diag.span is not None and diag.span.file == "--set #1"


@pytest.mark.parametrize("env", [None, "dev", "prod"])
@pytest.mark.parametrize(
    ("override", "path", "expected"),
    [
        pytest.param(
            "finetune.training.max_steps=10",
            ("finetune", "training", "max_steps"),
            10,
            id="declared-field-at-its-default",
        ),
        pytest.param(
            "finetune.compute.fsdp.cpu_offload=true",
            ("finetune", "compute", "fsdp", "cpu_offload"),
            True,
            id="inside-a-section-left-out",
        ),
    ],
)
def test_a_field_the_schema_declares_is_set_without_plus(
    spec, env, override, path, expected
) -> None:
    from llmspec.resolve.provenance import explain

    resolved = resolve(spec, env, [override])
    node = resolved.spec.model_dump()
    for part in path:
        node = node[part]
    assert node == expected
    (found,) = explain(resolved, ".".join(path))
    assert found.span is not None and found.span.layer == "--set"


@pytest.mark.parametrize(
    ("override", "hint_part"),
    [
        pytest.param("vars.region=eu", "+vars.region", id="vars-are-the-users"),
        pytest.param("finetune.training.max_step=1", "did you mean `max_steps`", id="typo"),
        pytest.param(
            "evaluation.datasets.extra.path=x.jsonl",
            "+evaluation.datasets.extra",
            id="a-new-name-is-an-addition",
        ),
    ],
)
def test_what_the_schema_does_not_declare_still_needs_plus(spec, override, hint_part) -> None:
    with pytest.raises(SpecError) as info:
        resolve(spec, None, [override])
    diag = info.value.diagnostics[0]
    assert diag.code == "LS307" and hint_part in (diag.hint or "")
