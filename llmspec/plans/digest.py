"""Content digests: of canonical JSON (key order never matters) and of files (streamed, cached)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

CHUNK = 1 << 20
CACHE_VERSION = 1


def canonical(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal data, equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest_of(value: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical(value).encode("utf-8")).hexdigest()


class FileDigests:
    """Content digests of files, cached by (path, size, mtime) so an unchanged corpus is not
    read again; the cache persists between runs in one JSON file (``.llmspec/cache``)."""

    def __init__(self, cache_file: Path | None = None) -> None:
        self.cache_file = cache_file
        self._entries: dict[str, list[Any]] = {}
        self._dirty = False
        if cache_file is not None:
            try:
                data = json.loads(cache_file.read_text(encoding="utf-8"))
                if data.get("version") == CACHE_VERSION:
                    self._entries = data.get("files", {})
            except (OSError, ValueError, AttributeError):
                self._entries = {}
        self.reads = 0  # files actually read (for tests and the benchmark)

    def digest(self, path: str | os.PathLike[str]) -> str:
        real = os.path.realpath(path)
        stat = os.stat(real)
        key = [stat.st_size, stat.st_mtime_ns]
        cached = self._entries.get(real)
        if cached is not None and cached[:2] == key:
            return str(cached[2])
        sha = hashlib.sha256()
        with open(real, "rb") as handle:
            for block in iter(lambda: handle.read(CHUNK), b""):
                sha.update(block)
        self.reads += 1
        value = "sha256:" + sha.hexdigest()
        self._entries[real] = [*key, value]
        self._dirty = True
        return value

    def save(self) -> None:
        """Write the cache back (atomically) when it learned something."""
        if self.cache_file is None or not self._dirty:
            return
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_file.with_name(f".{self.cache_file.name}.{os.getpid()}.tmp")
        tmp.write_text(
            canonical({"version": CACHE_VERSION, "files": self._entries}), encoding="utf-8"
        )
        os.replace(tmp, self.cache_file)
        self._dirty = False
