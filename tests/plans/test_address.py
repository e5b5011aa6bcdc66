"""Resource addresses: the string form round-trips, the constructors spell the built-in kinds'
addresses, malformed text is a ValueError, and every address a spec declares is well formed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmspec.core.diagnostics import SpecError
from llmspec.engine.step import ResourceDecl, Step
from llmspec.plans.address import Address
from llmspec.plans.digest import FileDigests
from llmspec.plans.graph import build_graph
from tests.conftest import ROOT

kinds = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,11}", fullmatch=True)
names = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp", "Cn", "Co")),
    min_size=1,
    max_size=24,
).filter(lambda name: name.isprintable() and not any(ch.isspace() for ch in name))


@pytest.mark.parametrize(
    ("address", "text"),
    [
        pytest.param(Address.dataset("train"), "dataset.train", id="dataset"),
        pytest.param(Address.eval_dataset("golden"), "dataset.eval-golden", id="eval-dataset"),
        pytest.param(Address.index("help_center"), "index.help_center", id="index"),
        pytest.param(Address.index("docs.v2"), "index.docs.v2", id="index-dotted-table"),
        pytest.param(Address.finetune("support-bot"), "finetune.support-bot", id="finetune"),
        pytest.param(Address.package("support-bot"), "package.support-bot", id="package"),
        pytest.param(Address.eval("support-bot"), "eval.support-bot", id="eval"),
        pytest.param(
            Address.promote("support-bot", "dev"), "promote.support-bot@dev", id="promote"
        ),
        pytest.param(Address.deploy("kserve-2"), "deploy.kserve-2", id="deploy"),
        pytest.param(Address("notify", "slack"), "notify.slack", id="plug-in"),
    ],
)
def test_constructors_spell_the_addresses(address: Address, text: str) -> None:
    assert str(address) == text
    assert Address.parse(text) == address


@given(kinds, names)
def test_parse_undoes_str(kind: str, name: str) -> None:
    address = Address(kind, name)
    assert Address.parse(str(address)) == address
    assert str(Address.parse(str(address))) == f"{kind}.{name}"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("index", id="no-dot"),
        pytest.param(".help_center", id="no-kind"),
        pytest.param("index.", id="no-name"),
        pytest.param("in dex.docs", id="blank-in-kind"),
        pytest.param("1index.docs", id="kind-starts-with-digit"),
        pytest.param("index.help center", id="blank-in-name"),
        pytest.param("index.docs\n", id="newline"),
        pytest.param("index.\x00", id="control-character"),
        pytest.param("prómote.x", id="kind-not-ascii"),
    ],
)
def test_malformed_text_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not a resource"):
        Address.parse(text)


def test_the_parts_are_checked_too() -> None:
    with pytest.raises(ValueError):
        Address("index.x", "docs")  # its string form would not parse back
    with pytest.raises(ValueError):
        Address("index", "")


def test_addresses_sort_by_kind_then_name() -> None:
    found = sorted([Address.package("b"), Address.index("z"), Address.index("a")])
    assert [str(a) for a in found] == ["index.a", "index.z", "package.b"]


def test_a_declared_resource_is_addressed_by_the_type() -> None:
    decl = ResourceDecl("promote", "support-bot@dev", {})
    assert decl.ref == Address.promote("support-bot", "dev")
    assert decl.address == "promote.support-bot@dev"


@pytest.mark.parametrize("spec", ["support-bot", "docs-assistant", "ticket-triage"])
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_declared_address_parses(spec: str, env: str, tmp_path: Path) -> None:
    from llmspec.engine.registry import registry
    from llmspec.frontend import resolve

    resolved = resolve(str(ROOT / "specs" / f"{spec}.yaml"), env)
    graph = build_graph(resolved, registry(), FileDigests(), ROOT)
    for address, resource in graph.resources.items():
        assert str(Address.parse(address)) == address
        assert Address.parse(address) == Address(resource.kind, resource.name)
        for dep in (*resource.deps, *resource.after):
            Address.parse(dep)


class _Nameless(Step):
    kind = ""  # a plug-in that forgot its kind

    def declare(self, ctx):  # type: ignore[no-untyped-def]
        yield ResourceDecl(self.kind, "thing", {})


def test_a_malformed_declaration_is_a_diagnostic() -> None:
    from llmspec.frontend import resolve

    resolved = resolve(str(ROOT / "specs" / "support-bot.yaml"), "dev")
    with pytest.raises(SpecError) as raised:
        build_graph(resolved, {"": _Nameless()}, FileDigests(), ROOT)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.code == "LS471" and "not a resource kind" in diagnostic.message
