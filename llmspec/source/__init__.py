"""Stage 1: find spec files and read them into :class:`Document` trees that keep every
position. May import core only."""

from llmspec.source.document import Document, Path, format_path
from llmspec.source.loader import load_file, load_text

__all__ = ["Document", "Path", "format_path", "load_file", "load_text"]
