"""Interpolation of vars, environment variables and secret references."""

from __future__ import annotations

import pytest

from llmspec.api import resolve
from llmspec.core.diagnostics import SpecError
from llmspec.core.secrets import SecretRef
from tests.conftest import MINIMAL

API_MODEL = MINIMAL.replace(
    """model:
  source: builtin
  id: tiny-gpt2
""",
    """model:
  source: openai-compatible
  base_url: ${vars.url}
  id: ${env:MODEL_ID:-small}
  api_key: ${secret:API_KEY}
""",
)


def test_vars_env_and_secret(write) -> None:
    path = write(
        "app.yaml", "vars:\n  host: api.example.com\n  url: https://${vars.host}/v1\n" + API_MODEL
    )
    spec = resolve(path, environ={}).spec
    assert spec.model.base_url == "https://api.example.com/v1"  # type: ignore[union-attr]
    assert spec.model.id == "small"
    assert spec.model.api_key == SecretRef("API_KEY")  # type: ignore[union-attr]
    spec = resolve(path, environ={"MODEL_ID": "large"}).spec
    assert spec.model.id == "large"


def test_whole_value_keeps_its_type(write) -> None:
    text = MINIMAL.replace(
        "  id: tiny-gpt2\n", "  id: tiny-gpt2\n  generation: {max_new_tokens: '${vars.n}'}\n"
    )
    spec = resolve(write("app.yaml", "vars: {n: 42}\n" + text)).spec
    assert spec.model.generation.max_new_tokens == 42


def test_escape_writes_a_literal(write) -> None:
    text = MINIMAL + "  system: 'cost $${PRICE}'\n"
    spec = resolve(write("app.yaml", text)).spec
    assert spec.prompts.system == "cost ${PRICE}"


def test_vars_overridden_by_environment(write) -> None:
    text = (
        "vars: {who: base}\n" + MINIMAL + "  system: hello ${vars.who}\n"
        "environments:\n  dev:\n    vars: {who: dev}\n"
    )
    path = write("app.yaml", text)
    assert resolve(path).spec.prompts.system == "hello base"
    assert resolve(path, "dev").spec.prompts.system == "hello dev"


def problems(write, text: str) -> list[tuple[str, int, int]]:
    with pytest.raises(SpecError) as info:
        resolve(write("app.yaml", text), environ={})
    return [(d.code, d.span.line, d.span.col) for d in info.value.diagnostics if d.span]


@pytest.mark.parametrize(
    ("system", "code", "col"),
    [
        pytest.param("'${vars.nope}'", "LS301", 12, id="undefined-var"),
        pytest.param("'x ${env:UNSET_FOR_TEST}'", "LS302", 14, id="unset-env"),
        pytest.param("'Bearer ${secret:TOKEN}'", "LS304", 19, id="secret-in-text"),
        pytest.param("'${secret:bad-name}'", "LS304", 12, id="bad-secret-name"),
        pytest.param("'${file:x}'", "LS305", 12, id="unknown-kind"),
        pytest.param("'${vars.a'", "LS305", 12, id="unclosed"),
        pytest.param("sk-abcdefghijklmnopqrstuvwxyz123456", "LS310", 11, id="openai-key"),
        pytest.param("'AKIAABCDEFGHIJKLMNOP'", "LS310", 12, id="aws-key"),
    ],
)
def test_interpolation_errors_point_inside_the_value(write, system, code, col) -> None:
    found = problems(write, MINIMAL + f"  system: {system}\n")
    assert (code, 12, col) in found


def test_cycle_is_reported_with_each_definition(write) -> None:
    text = "vars:\n  a: ${vars.b}\n  b: ${vars.a}\n" + MINIMAL + "  system: ${vars.a}\n"
    with pytest.raises(SpecError) as info:
        resolve(write("app.yaml", text))
    cycle = [d for d in info.value.diagnostics if d.code == "LS303"]
    assert cycle and "vars.a -> vars.b -> vars.a" in cycle[0].message
    assert {r.span.line for r in cycle[0].related} == {2, 3}


def test_undefined_var_suggests(write) -> None:
    text = "vars: {corpus: x}\n" + MINIMAL + "  system: ${vars.corpsu}\n"
    with pytest.raises(SpecError) as info:
        resolve(write("app.yaml", text))
    assert info.value.diagnostics[0].hint == "did you mean `corpus`?"


def test_literal_where_a_secret_belongs(write) -> None:
    text = API_MODEL.replace("${secret:API_KEY}", "plain-key-value")
    found = problems(write, "vars: {url: 'https://x'}\n" + text)
    assert found and found[0][0] == "LS310"


def test_secret_where_secrets_are_not_allowed(write) -> None:
    found = problems(write, MINIMAL + "  system: ${secret:X}\n")
    assert found[0][0] == "LS309"


def test_block_scalar_positions(write) -> None:
    text = MINIMAL + "  system: |\n    line one\n    uses ${vars.gone} here\n"
    found = problems(write, text)
    assert ("LS301", 14, 10) in found
