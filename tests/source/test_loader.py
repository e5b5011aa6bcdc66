"""The loader: YAML 1.2 values, positions, and every hostile input rejected with a diagnostic."""

from __future__ import annotations

import math
import time

import pytest

from llmspec.core.diagnostics import SpecError
from llmspec.source.loader import MAX_BYTES, load_bytes, load_text


def codes(text: str | bytes) -> list[str]:
    try:
        if isinstance(text, bytes):
            load_bytes(text, "t.yaml")
        else:
            load_text(text, "t.yaml")
    except SpecError as exc:
        return [d.code for d in exc.diagnostics]
    return []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2e-4", 0.0002, id="exponent-without-dot-is-float"),
        pytest.param("2.0e-4", 0.0002, id="exponent-float"),
        pytest.param("1_000", "1_000", id="underscores-are-text-in-1.2"),
        pytest.param("0o17", 15, id="octal"),
        pytest.param("0x1F", 31, id="hex"),
        pytest.param("017", 17, id="leading-zero-is-decimal"),
        pytest.param("no", "no", id="no-is-text"),
        pytest.param("on", "on", id="on-is-text"),
        pytest.param("yes", "yes", id="yes-is-text"),
        pytest.param("True", True, id="True"),
        pytest.param("false", False, id="false"),
        pytest.param("~", None, id="tilde-null"),
        pytest.param("", None, id="empty-null"),
        pytest.param(".inf", math.inf, id="inf"),
        pytest.param("-.Inf", -math.inf, id="minus-inf"),
        pytest.param("'2e-4'", "2e-4", id="quoted-stays-text"),
        pytest.param("!!str 12", "12", id="str-tag"),
        pytest.param("!!float 3", 3.0, id="float-tag"),
        pytest.param("12:30", "12:30", id="sexagesimal-is-text"),
    ],
)
def test_yaml_12_scalars(text: str, expected: object) -> None:
    assert load_text(f"a: {text}\n", "t.yaml").data["a"] == expected


def test_nan() -> None:
    assert math.isnan(load_text("a: .nan\n", "t.yaml").data["a"])


def test_positions_of_values_and_keys() -> None:
    doc = load_text("top:\n  inner: 5\n  items:\n    - x\n    - {k: v}\n", "t.yaml")
    assert (doc.values[("top", "inner")].line, doc.values[("top", "inner")].col) == (2, 10)
    assert (doc.keys[("top", "inner")].line, doc.keys[("top", "inner")].col) == (2, 3)
    assert (
        doc.values[("top", "items", 1, "k")].line,
        doc.values[("top", "items", 1, "k")].col,
    ) == (5, 11)


def test_alias_positions_point_at_the_anchor() -> None:
    doc = load_text("a: &x {b: 1}\nc: *x\n", "t.yaml")
    assert doc.data["c"] == {"b": 1}
    assert doc.values[("c", "b")].line == 1
    assert doc.values[("c",)].line == 2


@pytest.mark.parametrize(
    ("text", "code"),
    [
        pytest.param("a: [1\n", "LS101", id="unclosed-flow"),
        pytest.param("a:\n\tb: 1\n", "LS101", id="tab-indent"),
        pytest.param(b"a: \xff\n", "LS103", id="not-utf8"),
        pytest.param(b"a: 1\x00\n", "LS103", id="nul-byte"),
        pytest.param("a: \x07\n", "LS103", id="control-character"),
        pytest.param("", "LS104", id="empty"),
        pytest.param("# only a comment\n", "LS104", id="only-comments"),
        pytest.param("- a\n- b\n", "LS105", id="list-at-top"),
        pytest.param("just text\n", "LS105", id="scalar-at-top"),
        pytest.param("a: !!python/object/apply:os.system ['echo hi']\n", "LS106", id="python-tag"),
        pytest.param("a: !custom x\n", "LS106", id="local-tag"),
        pytest.param("a: !!int nope\n", "LS106", id="tag-mismatch"),
        pytest.param("a: 1\na: 2\n", "LS107", id="duplicate-key"),
        pytest.param("a: 1\n---\nb: 2\n", "LS110", id="two-documents"),
        pytest.param("? [a, b]\n: 1\n", "LS111", id="collection-key"),
        pytest.param("base: &b {x: 1}\nother:\n  <<: *b\n", "LS112", id="merge-key"),
    ],
)
def test_hostile_and_broken_inputs(text: str | bytes, code: str) -> None:
    assert code in codes(text)


def test_duplicate_key_points_at_both() -> None:
    with pytest.raises(SpecError) as info:
        load_text("a: 1\nb: 2\na: 3\n", "t.yaml")
    diag = info.value.diagnostics[0]
    assert diag.span is not None and diag.span.line == 3
    assert diag.related[0].span.line == 1


def test_billion_laughs_is_rejected_quickly() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    started = time.perf_counter()
    assert codes("\n".join(lines) + "\n") == ["LS108"]
    assert time.perf_counter() - started < 5  # a guard against hangs, not a benchmark


@pytest.mark.parametrize("style", ["flow", "block"])
def test_deep_nesting_is_rejected(style: str) -> None:
    depth = 20_000
    if style == "flow":
        text = "a: " + "[" * depth + "]" * depth + "\n"
    else:
        text = "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1\n"
    assert codes(text) == ["LS109"]


def test_oversized_input_is_rejected_before_parsing() -> None:
    started = time.perf_counter()
    assert codes(b"a: " + b"x" * (MAX_BYTES + 1)) == ["LS102"]
    assert time.perf_counter() - started < 5


def test_fifty_megabyte_file(tmp_path) -> None:
    from llmspec.source.loader import load_file

    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(50 * 1024 * 1024)
    with pytest.raises(SpecError) as info:
        load_file(big)
    assert info.value.diagnostics[0].code == "LS102"


def test_tab_hint_mentions_spaces() -> None:
    with pytest.raises(SpecError) as info:
        load_text("a:\n\tb: 1\n", "t.yaml")
    assert "spaces" in (info.value.diagnostics[0].hint or "")


def test_directory_and_missing_file(tmp_path) -> None:
    from llmspec.source.loader import load_file

    for target in (tmp_path, tmp_path / "nope.yaml"):
        with pytest.raises(SpecError) as info:
            load_file(target)
        assert info.value.diagnostics[0].code == "LS100"


def test_all_problems_of_a_file_are_reported() -> None:
    text = "a: 1\na: 2\nb: !!python/name:os.system x\nc: 3\nc: 4\n"
    assert codes(text) == ["LS107", "LS106", "LS107"]
