"""Properties of digests and plans."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from llmspec.plans.digest import digest_of
from llmspec.plans.planner import diff_values
from tests.engine.conftest import record_graph

leaf = st.one_of(
    st.integers(), st.text(max_size=8), st.booleans(), st.none(), st.floats(allow_nan=False)
)
trees = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


def shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


@settings(max_examples=200, deadline=None)
@given(trees, st.integers(0, 1000))
def test_key_order_never_changes_a_digest(tree: Any, seed: int) -> None:
    assert digest_of(tree) == digest_of(shuffled(tree, random.Random(seed)))


@settings(max_examples=200, deadline=None)
@given(trees)
def test_a_value_does_not_differ_from_itself(tree: Any) -> None:
    assert diff_values(tree, tree) == []


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=6), leaf, min_size=1), st.data())
def test_diff_names_exactly_the_changed_keys(old: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(old)))
    new = {**old, key: ("changed", old[key])}
    assert [path for path, _, _ in diff_values(old, new)] == [key or "(value)"]


def test_plan_of_an_applied_spec_is_all_no_op(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from llmspec.api import resolve
    from llmspec.engine.workspace import open_workspace
    from tests.conftest import ROOT

    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    for spec in ("support-bot", "docs-assistant", "ticket-triage"):
        for env in ("dev", "prod"):
            ws = open_workspace(resolve(f"specs/{spec}.yaml", env))
            record_graph(ws)  # the graph as built: plan(s, s)
            _, plan = ws.plan()
            assert {c.action for c in plan.changes} == {"no-op"}, (spec, env)
