"""Where llmspec keeps things in a repository, named once.

Everything llmspec writes lives under ``.llmspec/`` beside the specs (state, the build store,
the local MLflow store, LanceDB tables, caches, the server's log), except the rendered
artifacts under ``build/<app>/<env>/``, which are meant to be read and committed or shipped.
The relative names are class constants because the spec's schema defaults and the source
discovery spell them too (a test holds them equal); a :class:`Layout` joins them to a root.
What an installation computes once for every repository (the built spec validator, template
analyses) lives outside any repository, in :func:`user_cache`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

__all__ = ["Layout", "constraints_file", "file_key", "templates_root", "user_cache"]


@dataclass(frozen=True)
class Layout:
    """The places under one repository root."""

    root: Path

    HOME: ClassVar[str] = ".llmspec"
    STATE: ClassVar[str] = ".llmspec/state"  # the local state backend (`state.path`)
    ARTIFACTS: ClassVar[str] = ".llmspec/artifacts"  # the build store (`state.artifacts`)
    MLFLOW_DB: ClassVar[str] = ".llmspec/mlflow.db"
    TRACKING_URI: ClassVar[str] = "sqlite:///.llmspec/mlflow.db"  # `tracking.uri`, relative
    MLARTIFACTS: ClassVar[str] = ".llmspec/mlartifacts"  # MLflow experiments' artifacts
    CACHE: ClassVar[str] = ".llmspec/cache"
    FILE_DIGESTS: ClassVar[str] = ".llmspec/cache/file-digests.json"
    SERVE_LOG: ClassVar[str] = ".llmspec/serve.log"
    LANCEDB: ClassVar[str] = ".llmspec/lancedb"  # `retrieval.store.uri`
    BUILD: ClassVar[str] = "build"
    CACHE_ENV: ClassVar[str] = "LLMSPEC_CACHE"  # one model cache shared by many repositories

    @property
    def home(self) -> Path:
        return self.root / self.HOME

    @property
    def state(self) -> Path:
        """The local state backend's folder when the spec does not name one."""
        return self.root / self.STATE

    @property
    def artifacts(self) -> Path:
        """The build store when the spec does not name one."""
        return self.root / self.ARTIFACTS

    @property
    def mlflow_db(self) -> Path:
        return self.root / self.MLFLOW_DB

    @property
    def tracking_uri(self) -> str:
        """The local MLflow store's URI, absolute (a relative sqlite URI depends on the cwd)."""
        return f"sqlite:///{self.mlflow_db.resolve()}"

    @property
    def mlartifacts(self) -> Path:
        return self.root / self.MLARTIFACTS

    @property
    def cache(self) -> Path:
        """Built and converted models: ``$LLMSPEC_CACHE`` where set (shared between
        repositories and CI jobs), else the repository's own ``.llmspec/cache``."""
        return Path(os.environ.get(self.CACHE_ENV) or self.root / self.CACHE)

    @property
    def file_digests(self) -> Path:
        """The file-digest cache. Always the repository's own: it is keyed by this
        repository's files, so ``$LLMSPEC_CACHE`` does not move it."""
        return self.root / self.FILE_DIGESTS

    @property
    def serve_log(self) -> Path:
        return self.root / self.SERVE_LOG

    @property
    def lancedb(self) -> Path:
        """LanceDB tables when the spec does not name a store."""
        return self.root / self.LANCEDB

    def build(self, app: str, env: str) -> Path:
        """``build/<app>/<env>/``: the rendered artifacts of one app in one environment."""
        return self.root / self.BUILD / app / env

    def under(self, relative: str) -> Path:
        """A spec's repository-relative path (``state.path``, ``state.artifacts``)."""
        return self.root / relative


def templates_root() -> Path:
    """Templates ship inside the wheel as llmspec/templates; a source checkout keeps them at
    the repository's top level."""
    package = Path(__file__).resolve().parents[1]  # llmspec/
    packaged = package / "templates"
    return packaged if packaged.is_dir() else package.parent / "templates"


def constraints_file() -> Path:
    """The versions the test suite passed with: inside the wheel as llmspec/constraints.txt,
    at the top of a source checkout."""
    package = Path(__file__).resolve().parents[1]  # llmspec/
    packaged = package / "constraints.txt"
    return packaged if packaged.is_file() else package.parent / "constraints.txt"


def user_cache(kind: str) -> Path:
    """What this installation computes once for every repository (built validators, template
    analyses): ``$LLMSPEC_CACHE/<kind>`` where set, else ``$XDG_CACHE_HOME/llmspec/<kind>``
    (``~/.cache``). Always safe to delete."""
    shared = os.environ.get(Layout.CACHE_ENV)
    if shared:
        return Path(shared) / kind
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "llmspec" / kind


def file_key(*paths: str | Path) -> str:
    """Name, size and modification time of each file: the key Python's own bytecode cache
    trusts, and a ``stat`` each where hashing the text would import OpenSSL."""
    parts = []
    for path in paths:
        stat = os.stat(path)
        parts.append(f"{os.path.basename(path)}:{stat.st_size}:{stat.st_mtime_ns}")
    return ";".join(parts)
