"""Split documents into chunks, deterministically, sized in tokens or characters.

`recursive` respects structure: a document is cut at markdown headings, a section at blank lines
(paragraphs), a paragraph at sentence ends, a sentence at spaces; pieces are then packed into
chunks up to `size`, with `overlap` carried from the end of one chunk into the next. `fixed`
cuts windows of `size` words-or-characters regardless of structure. Each chunk keeps the file
lines it came from and the heading it sits under, for citations.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from llmspec.kinds.index.documents import Document

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Chunk:
    text: str
    line_start: int
    line_end: int
    heading: str


@dataclass(frozen=True)
class _Piece:
    text: str
    line_start: int
    line_end: int
    heading: str
    opens_section: bool = False  # a heading line: a chunk never spans two sections


def chunk_document(
    doc: Document, strategy: str, size: int, overlap: int, measure: Callable[[str], int]
) -> list[Chunk]:
    pieces = _structured(doc, size, measure) if strategy == "recursive" else _words(doc)
    return _pack(pieces, size, overlap, measure, join=" " if strategy == "fixed" else "\n")


def _structured(doc: Document, size: int, measure: Callable[[str], int]) -> list[_Piece]:
    """Paragraph-sized pieces under their heading, split further when larger than `size`."""
    out: list[_Piece] = []
    heading = ""
    paragraph: list[str] = []
    start = doc.first_line
    fenced = False

    def flush(end: int) -> None:
        if paragraph:
            text = "\n".join(paragraph).strip()
            if text:
                out.extend(_split(_Piece(text, start, end, heading), size, measure))
        paragraph.clear()

    for offset, line in enumerate(doc.text.split("\n")):
        number = doc.first_line + offset
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced  # a `# comment` in a code block is not a heading
        match = None if fenced else _HEADING.match(line)
        if match:
            flush(number - 1)
            heading = match.group(2).strip()
            out.append(_Piece(line.strip(), number, number, heading, opens_section=True))
            start = number + 1
        elif not line.strip() and not fenced:
            flush(number - 1)
            start = number + 1
        else:
            if not paragraph:
                start = number
            paragraph.append(line)
    flush(doc.first_line + doc.text.count("\n"))
    if not doc.lines_in_file:  # a jsonl record: every chunk cites the record's line
        out = [
            _Piece(p.text, doc.first_line, doc.first_line, p.heading, p.opens_section) for p in out
        ]
    return out


def _split(piece: _Piece, size: int, measure: Callable[[str], int]) -> list[_Piece]:
    """Cut at sentence ends, then spaces, then (a single over-long run) anywhere; each part
    keeps the file lines it spans."""
    if measure(piece.text) <= size:
        return [piece]
    for pattern in (_SENTENCE, re.compile(r"\s+")):
        spans = _spans(piece.text, pattern)
        if len(spans) > 1:
            out: list[_Piece] = []
            for begin, end in spans:
                part = piece.text[begin:end]
                first = piece.line_start + piece.text.count("\n", 0, begin)
                last = first + part.count("\n")
                out.extend(_split(_Piece(part, first, last, piece.heading), size, measure))
            return out
    half = len(piece.text) // 2
    if half == 0:
        return [piece]
    return _split(
        _Piece(piece.text[:half], piece.line_start, piece.line_end, piece.heading), size, measure
    ) + _split(
        _Piece(piece.text[half:], piece.line_start, piece.line_end, piece.heading), size, measure
    )


def _spans(text: str, separator: re.Pattern[str]) -> list[tuple[int, int]]:
    spans, last = [], 0
    for match in separator.finditer(text):
        if match.start() > last:
            spans.append((last, match.start()))
        last = match.end()
    if last < len(text):
        spans.append((last, len(text)))
    return spans


def _words(doc: Document) -> list[_Piece]:
    out: list[_Piece] = []
    for offset, line in enumerate(doc.text.split("\n")):
        for word in line.split():
            number = doc.first_line + offset
            out.append(_Piece(word, number, number, ""))
    return out


def _pack(
    pieces: list[_Piece], size: int, overlap: int, measure: Callable[[str], int], join: str
) -> list[Chunk]:
    chunks: list[Chunk] = []
    current: list[_Piece] = []
    used = 0
    separator = measure(join)  # a character when sizing in characters, no token
    for piece in pieces:
        cost = measure(piece.text)
        if current and piece.opens_section:  # a chunk never spans two sections
            chunks.append(_chunk(current, join))
            current, used = [], 0
        elif current and used + separator + cost > size:
            chunks.append(_chunk(current, join))
            current, used = _tail(current, overlap, measure, separator)
            while current and used + separator + cost > size:  # the overlap must leave room
                dropped = current.pop(0)
                used -= measure(dropped.text) + (separator if current else 0)
        used += cost + (separator if current else 0)
        current.append(piece)
    if current:
        chunks.append(_chunk(current, join))
    return chunks


def _tail(
    pieces: list[_Piece], overlap: int, measure: Callable[[str], int], separator: int
) -> tuple[list[_Piece], int]:
    """The last pieces, up to `overlap` in size, to start the next chunk with."""
    kept: list[_Piece] = []
    used = 0
    for piece in reversed(pieces):
        cost = measure(piece.text) + (separator if kept else 0)
        if used + cost > overlap:
            break
        kept.insert(0, piece)
        used += cost
    return kept, used


def _chunk(pieces: list[_Piece], join: str) -> Chunk:
    heading = next((p.heading for p in reversed(pieces) if p.heading), "")
    return Chunk(
        join.join(p.text for p in pieces).strip(),
        pieces[0].line_start,
        pieces[-1].line_end,
        heading,
    )
