"""Corpus loaders: markdown (front matter -> metadata, headings kept), text, jsonl.

Every document keeps its source path (relative to the spec) and the line where its text starts,
so a chunk can be cited as `path:first-last`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Document:
    doc_id: str  # stable: the source path (jsonl: path#id)
    source: str
    text: str
    first_line: int = 1  # file line of the text's first line
    metadata: dict[str, Any] = field(default_factory=dict)
    lines_in_file: bool = True  # False: the text is one record's field (jsonl), not file lines


class CorpusError(ValueError):
    """A corpus file that cannot be read as its format says; message names file and line."""


def load_documents(
    spec_dir: Path, files: Iterable[str], fmt: str, fields: dict[str, Any] | None = None
) -> Iterator[Document]:
    for relative in files:
        path = spec_dir / relative
        try:
            text = path.read_text(encoding="utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            raise CorpusError(
                f"{relative}: byte {exc.start} is not UTF-8; save it as UTF-8"
            ) from None
        if fmt == "markdown":
            yield _markdown(relative, text)
        elif fmt == "text":
            yield Document(relative, relative, text)
        elif fmt == "jsonl":
            yield from _jsonl(relative, text, fields or {})
        else:
            raise CorpusError(f"{relative}: corpus format `{fmt}` is not supported")


def _markdown(source: str, text: str) -> Document:
    metadata: dict[str, Any] = {}
    first_line = 1
    if text.startswith("---\n"):
        end = 3 if text.startswith("---\n---") else text.find("\n---", 4)
        if end > 0:
            import yaml

            try:
                loaded = yaml.safe_load(text[4:end]) if end > 3 else None
            except yaml.YAMLError:
                loaded = ""  # a thematic break, not front matter: keep the text as it is
            if not isinstance(loaded, (dict, type(None))):
                return Document(source, source, text, 1, {})
            if isinstance(loaded, dict):
                metadata = {str(k): v for k, v in loaded.items()}
            close = text.find("\n", end + 4)
            body_start = len(text) if close < 0 else close + 1
            first_line = text.count("\n", 0, body_start) + 1
            text = text[body_start:]
    return Document(source, source, text, first_line, _plain(metadata))


def _jsonl(source: str, text: str, fields: dict[str, Any]) -> Iterator[Document]:
    text_field = fields.get("text", "text")
    id_field = fields.get("id")
    keep = fields.get("metadata", [])
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise CorpusError(f"{source}:{number}: not valid JSON ({exc})") from None
        if not isinstance(record, dict) or not isinstance(record.get(text_field), str):
            raise CorpusError(f"{source}:{number}: no text in field `{text_field}`")
        key = (
            str(record[id_field])
            if id_field and id_field in record
            else (hashlib.sha256(line.encode()).hexdigest()[:16])
        )
        metadata = _plain({k: record[k] for k in keep if k in record})
        yield Document(
            f"{source}#{key}", source, record[text_field], number, metadata, lines_in_file=False
        )


def _plain(metadata: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe metadata (front matter may hold dates)."""
    return json.loads(json.dumps(metadata, default=str, sort_keys=True))  # type: ignore[no-any-return]
