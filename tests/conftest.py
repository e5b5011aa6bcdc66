"""Shared fixtures: a spec writer that builds specs in a temporary repository, golden files."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.team.servers import S3

ROOT = Path(__file__).resolve().parent.parent

MINIMAL = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata:
  name: demo
model:
  source: builtin
  id: tiny-gpt2
prompts:
  templates:
    answer:
      template: "Q: {{ question }} A:"
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files from the current output instead of comparing",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def golden(update_golden: bool) -> Callable[[Path, str], None]:
    """Compare ``text`` with the file at ``path``; with --update-golden, write it instead."""

    def check(path: Path, text: str) -> None:
        if update_golden or not path.exists():
            if not update_golden:
                pytest.fail(f"missing golden file {path}; run pytest --update-golden")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        expected = path.read_text(encoding="utf-8")
        assert text == expected, f"{path} differs; run pytest --update-golden if intended"

    return check


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary git-like repository (has .git) as the working directory."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def write(repo: Path) -> Callable[..., Path]:
    """Write a file under the temporary repository, dedenting the text."""

    def _write(name: str, text: str = MINIMAL) -> Path:
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of built and converted models for the whole session (a GGUF conversion takes
    half a minute; once is enough)."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(autouse=True, scope="session")
def _user_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The built validator and template analyses go to a cache of the session's own, never the
    user's ``~/.cache`` (``core.layout.user_cache``)."""
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user-cache"))
    yield
    if saved is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = saved


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3]:
    """An S3 API on loopback (moto's server), with a bucket `team`, for the whole session."""
    from tests.team.servers import s3_server

    with s3_server(tmp_path_factory.mktemp("s3")) as server:
        yield server
