"""Stage 1: read spec files into :class:`Document` trees that keep every position."""

from llmspec.source.document import Document, Path, format_path
from llmspec.source.loader import load_file, load_text

__all__ = ["Document", "Path", "format_path", "load_file", "load_text"]
