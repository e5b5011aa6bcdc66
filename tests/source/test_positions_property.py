"""Property: for any generated YAML, the reported position of every key and value is where the
key or value is written."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from llmspec.source.loader import load_text

keys = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
scalars = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.booleans(),
    st.from_regex(r"v[a-zA-Z ]{0,12}[a-z]", fullmatch=True),
)
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=4),
        st.dictionaries(keys, inner, min_size=1, max_size=4),
    ),
    max_leaves=25,
)
documents = st.dictionaries(keys, trees, min_size=1, max_size=6)


def leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        return [item for k, v in node.items() for item in leaves(v, path + (k,))]
    if isinstance(node, list):
        return [item for i, v in enumerate(node) for item in leaves(v, path + (i,))]
    return [(path, node)]


def text_at(lines: list[str], line: int, col: int) -> str:
    return lines[line - 1][col - 1 :]


def written(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@settings(max_examples=150, deadline=None)
@given(documents, st.sampled_from([False, None, True]))
def test_positions_point_at_keys_and_values(data: dict[str, Any], flow: bool | None) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, sort_keys=False, width=10_000)
    doc = load_text(text, "gen.yaml")
    assert doc.data == data
    lines = text.split("\n")
    for path, value in leaves(data):
        span = doc.values[path]
        at = text_at(lines, span.line, span.col).lstrip("'\"")
        assert at.startswith(written(value)), (path, value, span, text)
        if isinstance(path[-1], str):
            key_span = doc.keys[path]
            assert text_at(lines, key_span.line, key_span.col).lstrip("'\"").startswith(path[-1])
