"""Template analyses remembered across processes (checks/templates.py): what comes back from the
cache is what Jinja found, and a changed, damaged or colliding entry is parsed again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmspec.checks import templates

TEXTS = [
    "Q: {{ question }} A:",
    "{% for c in context %}{{ c.text }}{% endfor %}{{ question | upper }}",
    "{{ system }}\n{% if extra %}{{ extra }}{% endif %}",
    "{{ question ",  # a syntax error
    "{{ question | no_such_filter }}",  # reported by Jinja's code generator
    "",
]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("LLMSPEC_CACHE", str(tmp_path))
    templates.analyse.cache_clear()
    yield tmp_path / "templates"
    templates.analyse.cache_clear()


def _forget_in_memory() -> None:
    templates.analyse.cache_clear()


def test_a_cached_analysis_equals_jinjas(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = {text: templates.analyse(text) for text in TEXTS}
    assert len(list(cache.glob("*.json"))) == len(TEXTS)
    assert parsed["{{ question "][1] is not None
    assert parsed["{{ question | no_such_filter }}"][1] is not None
    assert parsed[TEXTS[1]] == (frozenset({"context", "question"}), None)

    _forget_in_memory()

    def no_jinja(text: str) -> templates.Analysis:
        raise AssertionError("parsed again")

    monkeypatch.setattr(templates, "_parse", no_jinja)
    assert {text: templates.analyse(text) for text in TEXTS} == parsed


@pytest.mark.parametrize("damage", ["partial", "other text", "other key"])
def test_a_damaged_or_colliding_entry_is_parsed_again(cache: Path, damage: str) -> None:
    text = "Hello {{ name }}"
    expected = templates.analyse(text)
    (entry,) = cache.glob("*.json")
    record = json.loads(entry.read_text(encoding="utf-8"))
    if damage == "partial":
        entry.write_text(entry.read_text(encoding="utf-8")[:10], encoding="utf-8")
    else:  # same file name (a crc32 collision), another text; or another Jinja
        field, value = ("text", "Bye {{ other }}") if damage == "other text" else ("key", "x")
        entry.write_text(
            json.dumps({**record, field: value, "variables": ["other"]}), encoding="utf-8"
        )
    _forget_in_memory()
    assert templates.analyse(text) == expected
    assert json.loads(entry.read_text(encoding="utf-8")) == record, "the entry is rewritten"


def test_a_read_only_cache_only_costs_the_parse(cache: Path) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("not a folder", encoding="utf-8")
    assert templates.analyse("{{ a }}{{ b }}") == (frozenset({"a", "b"}), None)
