"""Read YAML into a :class:`Document`, safely and with positions.

Built on libyaml's event stream rather than a constructor, so that nothing is ever instantiated
from a tag, every node's position is recorded, duplicate keys are caught, and alias expansion and
nesting depth are bounded before anything grows (a YAML bomb stops in milliseconds).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from llmspec.core.diagnostics import Diagnostic, Related, Span, SpecError, error
from llmspec.source.document import Document, Path, format_path
from llmspec.source.yaml12 import (
    ALLOWED_COLLECTION_TAGS,
    ALLOWED_SCALAR_TAGS,
    resolve_plain,
    resolve_tagged,
)

MAX_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 100_000

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DISCARD = object()


@dataclass
class _Frame:
    path: Path
    value: dict[str, Any] | list[Any]
    span: Span
    anchor: str | None
    first_entry: int
    key: Any = None  # pending mapping key (str), or _DISCARD for a `<<` entry
    key_span: Span | None = None
    key_spans: dict[str, Span] = field(default_factory=dict)


@dataclass
class _Anchor:
    value: Any
    entries: list[tuple[Path, Span, bool]]  # relative path, span, is_key


def load_file(
    path: str | os.PathLike[str], display: str | None = None, layer: str = "base"
) -> Document:
    """Load one spec or overlay file; raises :class:`SpecError` with every problem found."""
    name = display or str(path)
    fs = FsPath(path)
    try:
        size = fs.stat().st_size
        if fs.is_dir():
            raise SpecError(
                [error("LS100", f"`{name}` is a directory, not a spec file", Span(name, 1, 1))]
            )
        if size > MAX_BYTES:
            raise SpecError(
                [
                    error(
                        "LS102",
                        f"file is {size:,} bytes; specs are limited to {MAX_BYTES:,}",
                        Span(name, 1, 1),
                        hint="keep data in separate files and reference them by path",
                    )
                ]
            )
        raw = fs.read_bytes()
    except OSError as exc:
        raise SpecError(
            [error("LS100", f"cannot read `{name}`: {exc.strerror or exc}", Span(name, 1, 1))]
        ) from None
    return load_bytes(raw, name, layer)


def load_bytes(raw: bytes, name: str, layer: str = "base") -> Document:
    if len(raw) > MAX_BYTES:
        raise SpecError(
            [
                error(
                    "LS102", f"file is {len(raw):,} bytes; limit is {MAX_BYTES:,}", Span(name, 1, 1)
                )
            ]
        )
    if b"\x00" in raw:
        raise SpecError(
            [
                error(
                    "LS103",
                    "file contains NUL bytes: it looks binary, not YAML",
                    _byte_span(raw, raw.index(b"\x00"), name),
                )
            ]
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(
            [
                error(
                    "LS103",
                    f"byte 0x{raw[exc.start]:02x} is not valid UTF-8",
                    _byte_span(raw, exc.start, name),
                    hint="save the file as UTF-8",
                )
            ]
        ) from None
    return load_text(text, name, layer)


def load_text(text: str, name: str, layer: str = "base") -> Document:
    """Parse YAML text (already decoded) into a Document; ``name`` is used in spans."""
    builder = _Builder(name, layer)
    try:
        for event in yaml.parse(text, Loader=_Loader):
            builder.feed(event)
    except _Fatal:
        pass
    except yaml.MarkedYAMLError as exc:
        builder.diagnostics.append(_syntax_error(exc, name, text))
    except yaml.YAMLError as exc:  # reader errors: control characters
        position = getattr(exc, "position", 0)
        char = getattr(exc, "character", None)
        code = char if isinstance(char, int) else ord(char) if isinstance(char, str) and char else 0
        builder.diagnostics.append(
            error(
                "LS103",
                f"control character U+{code:04X} is not allowed in YAML",
                _char_span(text, position, name),
                hint="remove control characters from the file",
            )
        )
    if builder.diagnostics:
        raise SpecError(builder.diagnostics)
    if builder.root is None:
        raise SpecError(
            [
                error(
                    "LS104",
                    "the file is empty: no spec found",
                    Span(name, 1, 1),
                    hint="start from `llmspec init NAME`",
                )
            ]
        )
    return Document(name, builder.root, builder.values, builder.keys, {name: text})


class _Fatal(Exception):
    """Stops parsing after a structural problem; the diagnostic is already recorded."""


class _Builder:
    def __init__(self, name: str, layer: str) -> None:
        self.name = name
        self.layer = layer
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.documents = 0
        self.nodes = 0
        self.entries: list[tuple[Path, Span, bool]] = []
        self.open_anchors = 0
        self.anchors: dict[str, _Anchor] = {}
        self.diagnostics: list[Diagnostic] = []
        self.values: dict[Path, Span] = {}
        self.keys: dict[Path, Span] = {}

    def span(self, event: Any, style: str = "") -> Span:
        s, e = event.start_mark, event.end_mark
        end_line, end_col = e.line + 1, e.column
        if end_col == 0 and end_line > s.line + 1:  # a block ending at a line break
            end_line, end_col = end_line - 1, 10_000
        return Span(
            self.name,
            s.line + 1,
            s.column + 1,
            end_line,
            max(end_col, s.column + 1),
            self.layer,
            style,
        )

    def fatal(self, diagnostic: Diagnostic) -> None:
        self.diagnostics.append(diagnostic)
        raise _Fatal

    def feed(self, event: Any) -> None:
        kind = type(event)
        if kind is yaml.ScalarEvent:
            self.scalar(event)
        elif kind is yaml.MappingStartEvent:
            self.start(event, {})
        elif kind is yaml.SequenceStartEvent:
            self.start(event, [])
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            self.end()
        elif kind is yaml.AliasEvent:
            self.alias(event)
        elif kind is yaml.DocumentStartEvent:
            self.documents += 1
            if self.documents > 1:
                self.fatal(
                    error(
                        "LS110",
                        "a spec file holds exactly one YAML document",
                        self.span(event),
                        hint="remove the `---` separator, or split the file",
                    )
                )

    # -- nodes -------------------------------------------------------------------------------
    def count(self, n: int, event: Any) -> None:
        self.nodes += n
        if self.nodes > MAX_NODES:
            self.fatal(
                error(
                    "LS108",
                    f"the document expands to more than {MAX_NODES:,} nodes",
                    self.span(event),
                    hint="aliases are expanded where used; a spec never needs this many",
                )
            )

    def check_tag(self, event: Any, allowed: Any) -> str | None:
        tag: str | None = event.tag
        if tag is None or tag == "!" or tag in allowed:
            return tag
        short = tag.replace("tag:yaml.org,2002:", "!!")
        self.diagnostics.append(
            error(
                "LS106",
                f"YAML tag `{short}` is not allowed",
                self.span(event),
                hint="specs are plain data; only the core tags "
                "(!!str, !!int, !!float, !!bool, !!null) may be used",
            )
        )
        return None

    def scalar(self, event: Any) -> None:
        frame = self.stack[-1] if self.stack else None
        if frame is not None and isinstance(frame.value, dict) and frame.key is None:
            self.mapping_key(frame, event)
            return
        self.count(1, event)
        span = self.span(event, event.style or "")
        tag = self.check_tag(event, ALLOWED_SCALAR_TAGS)
        if tag in ALLOWED_SCALAR_TAGS:
            try:
                value: Any = resolve_tagged(ALLOWED_SCALAR_TAGS[tag], event.value)
            except ValueError as exc:
                self.diagnostics.append(error("LS106", str(exc), span))
                value = event.value
        elif event.implicit[0] and tag is None:
            value = resolve_plain(event.value)
        else:
            value = event.value
        self.attach(value, span, event)

    def mapping_key(self, frame: _Frame, event: Any) -> None:
        span = self.span(event, event.style or "")
        key = event.value
        if self.check_tag(event, {"tag:yaml.org,2002:str"}) is None and event.tag:
            frame.key, frame.key_span = _DISCARD, span
            return
        if event.anchor:
            self.anchors[event.anchor] = _Anchor(key, [])
        if key == "<<" and event.implicit[0]:
            self.diagnostics.append(
                error(
                    "LS112",
                    "YAML merge keys (`<<`) are not part of YAML 1.2",
                    span,
                    hint="share values with `vars` and `${vars.NAME}`, "
                    "or with `environments` overlays",
                )
            )
            frame.key, frame.key_span = _DISCARD, span
            return
        first = frame.key_spans.get(key)
        if first is not None:
            self.diagnostics.append(
                error(
                    "LS107",
                    f"duplicate key `{key}` in `{format_path(frame.path)}`",
                    span,
                    hint="a later key would silently replace the earlier one; keep one",
                    related=[Related(first, "first defined here")],
                )
            )
            frame.key, frame.key_span = _DISCARD, span
            return
        frame.key_spans[key] = span
        frame.key, frame.key_span = key, span

    def start(self, event: Any, value: dict[str, Any] | list[Any]) -> None:
        frame = self.stack[-1] if self.stack else None
        if frame is not None and isinstance(frame.value, dict) and frame.key is None:
            self.fatal(
                error(
                    "LS111",
                    "a mapping key must be a plain value, not a collection",
                    self.span(event),
                )
            )
        if len(self.stack) >= MAX_DEPTH:
            self.fatal(
                error(
                    "LS109",
                    f"nesting deeper than {MAX_DEPTH} levels",
                    self.span(event),
                    hint="a spec is a few levels deep; this looks generated or hostile",
                )
            )
        self.count(1, event)
        self.check_tag(event, ALLOWED_COLLECTION_TAGS)
        path = self.child_path(frame)
        self.stack.append(_Frame(path, value, self.span(event), event.anchor, len(self.entries)))
        if event.anchor:
            self.open_anchors += 1

    def end(self) -> None:
        frame = self.stack.pop()
        if frame.anchor:
            self.open_anchors -= 1
            self.remember(frame.anchor, frame.value, frame.path, frame.first_entry)
        self.attach(frame.value, frame.span, None, frame.path)

    def alias(self, event: Any) -> None:
        anchor = self.anchors.get(event.anchor)
        if anchor is None:  # libyaml reports undefined aliases itself; keep a guard
            self.fatal(error("LS101", f"alias `*{event.anchor}` has no anchor", self.span(event)))
        assert anchor is not None
        frame = self.stack[-1] if self.stack else None
        if frame is not None and isinstance(frame.value, dict) and frame.key is None:
            self.fatal(
                error(
                    "LS111", "a mapping key must be a plain value, not an alias", self.span(event)
                )
            )
        self.count(len(anchor.entries) + 1, event)
        base = self.child_path(frame)
        for rel, span, is_key in anchor.entries:
            self.record(base + rel, span, is_key)
        self.attach(anchor.value, self.span(event), None, base)

    # -- wiring ------------------------------------------------------------------------------
    def child_path(self, frame: _Frame | None) -> Path:
        if frame is None:
            return ()
        if isinstance(frame.value, dict):
            return frame.path + ((frame.key if frame.key is not _DISCARD else "<<"),)
        return frame.path + (len(frame.value),)

    def record(self, path: Path, span: Span, is_key: bool) -> None:
        if self.open_anchors:  # only an anchored collection needs its entries replayed
            self.entries.append((path, span, is_key))
        (self.keys if is_key else self.values)[path] = span

    def remember(self, anchor: str, value: Any, path: Path, first: int) -> None:
        """Keep what an alias of this collection replays: its value and the positions below it
        (the alias itself is positioned where it is written)."""
        n = len(path)
        self.anchors[anchor] = _Anchor(value, [(p[n:], s, k) for p, s, k in self.entries[first:]])

    def attach(self, value: Any, span: Span, event: Any, path: Path | None = None) -> None:
        frame = self.stack[-1] if self.stack else None
        if path is None:
            path = self.child_path(frame)
        if frame is None:
            self.root = value
            self.record(path, span, False)
            if not isinstance(value, dict) and value is not None:
                self.fatal(
                    error(
                        "LS105",
                        f"the top level must be a mapping, found {_kind(value)}",
                        span,
                        hint="a spec starts with `apiVersion: llmspec/v1`",
                    )
                )
            return
        if isinstance(frame.value, dict):
            key, key_span = frame.key, frame.key_span
            frame.key = None
            if key is _DISCARD:
                return
            frame.value[key] = value
            assert key_span is not None
            self.record(path, key_span, True)
        else:
            frame.value.append(value)
        self.record(path, span, False)
        if event is not None and getattr(event, "anchor", None):
            self.anchors[event.anchor] = _Anchor(value, [])


def _kind(value: Any) -> str:
    return {
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _syntax_error(exc: yaml.MarkedYAMLError, name: str, text: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or "invalid YAML"
    lines = text.split("\n")
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    hint = None
    if "maximum nesting depth" in problem:
        return error(
            "LS109",
            f"nesting deeper than the YAML parser allows ({problem})",
            Span(name, line, col),
            hint="a spec is a few levels deep",
        )
    if "\t" in source_line[: max(col, 1)] or "\t" in problem:
        return error(
            "LS101",
            "a tab character cannot indent YAML",
            Span(name, line, col),
            hint="YAML indentation uses spaces; replace the tab characters",
        )
    elif "mapping values are not allowed" in problem:
        hint = "a `key: value` pair is misplaced; check the indentation and quote values with `: `"
    elif "expected <block end>" in problem or "did not find expected key" in problem:
        hint = "check the indentation of this line against the lines above"
    message = problem[0].upper() + problem[1:] if problem else "invalid YAML"
    if exc.context and exc.context not in message:
        message = f"{message} ({exc.context})"
    return error("LS101", message, Span(name, line, col), hint=hint)


def _byte_span(raw: bytes, offset: int, name: str) -> Span:
    line = raw.count(b"\n", 0, offset) + 1
    col = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return Span(name, line, col)


def _char_span(text: str, offset: int, name: str) -> Span:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Span(name, line, col)
