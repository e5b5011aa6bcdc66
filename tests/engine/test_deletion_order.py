"""Deletes run dependents first, from the dependency edges state recorded, not from the order
step kinds were registered in: a plug-in kind that a built-in depends on is deleted after it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmspec.engine.registry import register, reset
from llmspec.engine.step import DeclareContext, ResourceDecl, RunContext, Step
from llmspec.kinds.package.step import PackageStep
from llmspec.plans.order import deletion_order
from llmspec.plans.planner import Change, Reason
from llmspec.state.model import AppState, ResourceState
from tests.engine.conftest import record_graph

APP = "support-bot"
VAULT = "vault.keys"


class VaultStep(Step):
    """A plug-in kind that needs nothing: the keys a package's model reads."""

    kind = "vault"

    def declare(self, ctx: DeclareContext) -> Iterator[ResourceDecl]:
        yield ResourceDecl(self.kind, "keys", {"path": "kv/support-bot"})

    def run(self, resource: Any, ctx: RunContext) -> dict[str, Any]:
        return {"path": "kv/support-bot"}

    def destroy(self, resource: ResourceState, ctx: RunContext) -> bool:
        return True


class VaultedPackage(PackageStep):
    """The built-in package, made to depend on the plug-in's resource."""

    def declare(self, ctx: DeclareContext) -> Iterator[ResourceDecl]:
        for decl in super().declare(ctx):
            yield ResourceDecl(
                decl.kind,
                decl.name,
                decl.config,
                decl.files,
                (*decl.deps, VAULT),
                decl.after,
                decl.settings,
            )


@pytest.fixture
def plugged() -> Iterator[None]:
    reset()
    register(VaultedPackage())  # replaces the built-in, in its place
    register(VaultStep())  # a new kind: registered after every built-in
    yield
    reset()


def test_a_plug_in_that_a_built_in_needs_is_deleted_after_it(project: Path, plugged: None) -> None:
    from llmspec.engine.destroy import destroy
    from llmspec.engine.registry import registry
    from llmspec.engine.workspace import open_workspace
    from llmspec.frontend import resolve

    assert list(registry())[-1] == "vault"  # what ranking by registration got wrong
    ws = open_workspace(resolve("specs/support-bot.yaml", "dev"))
    graph = ws.graph()
    record_graph(ws)  # as apply records them
    assert VAULT in graph.resources[f"package.{APP}"].deps
    before = ws.backend.read(ws.app, ws.env).resources

    result = destroy(ws)

    order = [o.address for o in result.outcomes]
    assert sorted(order) == sorted(graph.resources)
    assert order.index(f"package.{APP}") < order.index(VAULT)
    assert_dependents_first(order, before)
    assert ws.backend.read(ws.app, ws.env).resources == {}


def assert_dependents_first(order: list[str], states: dict[str, ResourceState]) -> None:
    position = {a: i for i, a in enumerate(order)}
    for address, state in states.items():
        for dep in state.needs:
            if address in position and dep in position:
                assert position[address] < position[dep], (address, dep, order)


def delete(address: str) -> Change:
    return Change(address, address.split(".")[0], "delete", (Reason("removed"),))


def state(address: str, deps: tuple[str, ...] = (), after: tuple[str, ...] = ()) -> ResourceState:
    return ResourceState(
        address, address.split(".")[0], "d", "complete", deps=dict.fromkeys(deps, "d"), after=after
    )


def test_after_edges_order_deletes() -> None:
    states = {
        "deploy.kserve": state("deploy.kserve", after=("promote.a@dev",)),
        "promote.a@dev": state("promote.a@dev", deps=("package.a",)),
        "package.a": state("package.a"),
    }
    changes = [delete(a) for a in sorted(states, reverse=True)]
    found = [c.address for c in deletion_order(changes, states)]
    assert found == ["deploy.kserve", "promote.a@dev", "package.a"]


def test_graph_edges_stand_in_for_what_old_state_lacks() -> None:
    # `zeta.x` runs after `alpha.y`; state from before `after` was recorded does not say so
    states = {"zeta.x": state("zeta.x"), "alpha.y": state("alpha.y")}
    changes = [delete("alpha.y"), delete("zeta.x")]
    assert [c.address for c in deletion_order(changes, states)] == ["alpha.y", "zeta.x"]
    found = deletion_order(changes, states, {"zeta.x": ("alpha.y",)})
    assert [c.address for c in found] == ["zeta.x", "alpha.y"]


def test_only_deletes_are_ordered_and_a_cycle_falls_back_to_addresses() -> None:
    states = {"a.x": state("a.x", deps=("b.x",)), "b.x": state("b.x", deps=("a.x",))}
    changes = [Change("c.x", "c", "create"), delete("b.x"), delete("a.x")]
    assert [c.address for c in deletion_order(changes, states)] == ["a.x", "b.x"]


def test_after_is_recorded_only_when_there_is_some() -> None:
    plain = ResourceState("package.a", "package", "d", "complete")
    assert "after" not in plain.to_json()  # older state files read and write unchanged
    assert ResourceState.from_json(plain.to_json()) == plain
    ordered = ResourceState("deploy.k", "deploy", "d", "complete", after=("promote.a@dev",))
    assert ordered.to_json()["after"] == ["promote.a@dev"]
    assert ResourceState.from_json(ordered.to_json()) == ordered
    app = AppState("a", "dev", 1, {"deploy.k": ordered})
    assert AppState.from_json(app.to_json()) == app
    tolerant = ResourceState.from_json({**plain.to_json(), "after": "not-a-list"})
    assert tolerant.after == ()


@st.composite
def recorded_graphs(draw: st.DrawFn) -> tuple[dict[str, ResourceState], list[Change]]:
    """A DAG of recorded resources (edges only to earlier ones, some `after`), and a plan that
    deletes some of them, in any order, among other changes."""
    count = draw(st.integers(1, 12))
    kinds = ["dataset", "index", "vault", "package", "eval", "promote", "deploy", "notify"]
    addresses = [f"{draw(st.sampled_from(kinds))}.r{i}" for i in range(count)]
    states = {}
    for i, address in enumerate(addresses):
        earlier = addresses[:i]
        deps = draw(st.lists(st.sampled_from(earlier), unique=True)) if earlier else []
        after = draw(st.lists(st.sampled_from(earlier), unique=True)) if earlier else []
        states[address] = state(address, tuple(deps), tuple(after))
    deleted = draw(st.lists(st.sampled_from(addresses), unique=True))
    changes = [delete(a) for a in deleted]
    changes += [Change(a, "x", "update") for a in addresses if a not in deleted]
    random.Random(draw(st.integers(0, 1000))).shuffle(changes)
    return states, changes


@settings(max_examples=300, deadline=None)
@given(recorded_graphs(), st.randoms(use_true_random=False))
def test_every_delete_comes_before_its_dependencies_deletes(
    case: tuple[dict[str, ResourceState], list[Change]], rng: random.Random
) -> None:
    states, changes = case
    order = [c.address for c in deletion_order(changes, states)]
    assert sorted(order) == sorted(c.address for c in changes if c.action == "delete")
    assert_dependents_first(order, states)
    shuffled = list(changes)
    rng.shuffle(shuffled)
    assert [c.address for c in deletion_order(shuffled, states)] == order  # deterministic
