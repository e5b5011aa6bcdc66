"""The repository layout: every place llmspec keeps things, the LLMSPEC_CACHE rule, and the spec
defaults that spell the same places."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from llmspec.core.layout import Layout
from llmspec.core.tracking import choose_tracking
from llmspec.state.local import LocalState
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("place", "relative"),
    [
        pytest.param("home", ".llmspec", id="home"),
        pytest.param("state", ".llmspec/state", id="state"),
        pytest.param("artifacts", ".llmspec/artifacts", id="artifacts"),
        pytest.param("mlflow_db", ".llmspec/mlflow.db", id="mlflow-db"),
        pytest.param("mlartifacts", ".llmspec/mlartifacts", id="mlartifacts"),
        pytest.param("file_digests", ".llmspec/cache/file-digests.json", id="file-digests"),
        pytest.param("serve_log", ".llmspec/serve.log", id="serve-log"),
        pytest.param("lancedb", ".llmspec/lancedb", id="lancedb"),
    ],
)
def test_places_under_the_root(tmp_path: Path, place: str, relative: str) -> None:
    assert getattr(Layout(tmp_path), place) == tmp_path / relative


def test_build_folder_per_app_and_environment(tmp_path: Path) -> None:
    assert Layout(tmp_path).build("support-bot", "dev") == tmp_path / "build/support-bot/dev"


def test_cache_follows_llmspec_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Layout(tmp_path / "repo")
    monkeypatch.delenv("LLMSPEC_CACHE", raising=False)
    assert layout.cache == tmp_path / "repo/.llmspec/cache"
    monkeypatch.setenv("LLMSPEC_CACHE", "")  # set but empty: as if unset
    assert layout.cache == tmp_path / "repo/.llmspec/cache"
    monkeypatch.setenv("LLMSPEC_CACHE", str(tmp_path / "shared"))
    assert layout.cache == tmp_path / "shared"
    # the file-digest cache describes this repository's files: it stays in the repository
    assert layout.file_digests == tmp_path / "repo/.llmspec/cache/file-digests.json"


def test_tracking_uri_is_the_local_store_resolved(tmp_path: Path) -> None:
    from llmspec.integrations.mlflow import tracking_uri

    layout = Layout(tmp_path)
    assert layout.tracking_uri == f"sqlite:///{(tmp_path / '.llmspec/mlflow.db').resolve()}"
    assert layout.tracking_uri == tracking_uri(Layout.TRACKING_URI, tmp_path)


def test_relative_names_are_under_home() -> None:
    for name in ("STATE", "ARTIFACTS", "MLFLOW_DB", "MLARTIFACTS", "CACHE", "SERVE_LOG", "LANCEDB"):
        assert getattr(Layout, name).startswith(Layout.HOME + "/"), name
    assert Layout.FILE_DIGESTS.startswith(Layout.CACHE + "/")
    assert Layout.TRACKING_URI == "sqlite:///" + Layout.MLFLOW_DB


def test_spec_defaults_name_the_same_places() -> None:
    """The schema spells its defaults as literals (they are shown in the docs); they must stay
    the places the layout names."""
    from llmspec.spec.governance import StateConfig, Tracking
    from llmspec.spec.retrieval import Store

    assert StateConfig.model_fields["path"].default == Layout.STATE
    assert StateConfig.model_fields["artifacts"].default == Layout.ARTIFACTS
    assert Tracking.model_fields["uri"].default is None
    assert choose_tracking(None, environ={}).uri == Layout.TRACKING_URI
    assert Store.model_fields["uri"].default == Layout.LANCEDB


def test_discovery_skips_what_llmspec_writes() -> None:
    from llmspec.source.discovery import SKIP_DIRS

    assert {Layout.HOME, Layout.BUILD} <= SKIP_DIRS


def test_workspace_is_laid_out_by_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmspec.engine.workspace import open_workspace
    from llmspec.frontend import resolve

    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LLMSPEC_CACHE", raising=False)
    ws = open_workspace(resolve("specs/support-bot.yaml", "dev"))
    layout = Layout(tmp_path.resolve())
    assert ws.layout == layout and ws.repo_root == layout.root
    assert ws.build_dir == layout.build("support-bot", "dev")
    assert ws.files.cache_file == layout.file_digests
    assert ws.artifacts.root == layout.artifacts
    assert isinstance(ws.backend, LocalState) and ws.backend.root == layout.state


def test_run_context_caches_models_where_the_layout_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmspec.engine.step import RunContext

    ctx = RunContext(None, "a", "dev", tmp_path, tmp_path, tmp_path, {}, repo_root=tmp_path)  # type: ignore[arg-type]
    monkeypatch.delenv("LLMSPEC_CACHE", raising=False)
    assert ctx.cache_dir == Layout(tmp_path).cache == tmp_path / ".llmspec/cache"
    monkeypatch.setenv("LLMSPEC_CACHE", str(tmp_path / "shared"))
    assert ctx.cache_dir == tmp_path / "shared"
