"""Drift: plan refreshes what apply made from the systems that hold it, shows what changed
outside llmspec with its own reason, and apply puts it back (a real MLflow store and LanceDB
table: the scaffolded demo app, applied for real)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmspec.integrations.mlflow import client_for
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _run(repo: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "llmspec", *argv],
        cwd=repo,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=900,
    )


def _plan(repo: Path, *extra: str) -> dict[str, Any]:
    done = _run(repo, "plan", "specs/demo.yaml", "-e", "dev", "--json", *extra)
    assert done.returncode == 0, done.stderr
    return {c["address"]: c for c in json.loads(done.stdout)["changes"]}


def test_out_of_band_changes_are_seen_and_put_back(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".git").mkdir()
    assert _run(repo, "init", "demo").returncode == 0
    first = _run(repo, "apply", "specs/demo.yaml", "-e", "dev")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    state = json.loads(_run(repo, "state", "show", "specs/demo.yaml", "-e", "dev", "--json").stdout)
    tracking = state["resources"]["package.demo"]["outputs"]["tracking_uri"]
    client = client_for(tracking)
    assert all(c["action"] == "no-op" for c in _plan(repo).values())

    # someone deletes the alias in MLflow's UI
    client.delete_registered_model_alias("demo", "dev")
    changes = _plan(repo)
    promote = changes["promote.demo@dev"]
    assert promote["action"] == "update"
    assert promote["reasons"] == [
        {"code": "changed_outside", "what": "@dev", "old": None,
         "new": "alias @dev of `demo` is gone; state says version 1 (apply moves it back)"},
    ]  # fmt: skip
    text = _run(repo, "plan", "specs/demo.yaml", "-e", "dev").stdout
    assert "changed outside llmspec: alias @dev of `demo` is gone" in text
    trusted = _plan(repo, "--refresh", "false")
    assert trusted["promote.demo@dev"]["action"] == "no-op", "--refresh=false trusts the state"
    fixed = _run(repo, "apply", "specs/demo.yaml", "-e", "dev")
    assert fixed.returncode == 0, fixed.stdout[-2000:] + fixed.stderr[-2000:]
    assert str(client.get_model_version_by_alias("demo", "dev").version) == "1"
    assert all(c["action"] == "no-op" for c in _plan(repo).values())

    # a second version, then the alias moved back to the first by hand
    spec = repo / "specs" / "demo.yaml"
    spec.write_text(spec.read_text().replace('Say "I don\'t know"', 'Say "I do not know"'))
    assert _run(repo, "apply", "specs/demo.yaml", "-e", "dev").returncode == 0
    assert str(client.get_model_version_by_alias("demo", "dev").version) == "2"
    client.set_registered_model_alias("demo", "dev", "1")
    moved = _plan(repo)["promote.demo@dev"]
    assert moved["reasons"][0]["new"].startswith("alias @dev points at version 1; state says 2")

    # the registered version deleted, and the table dropped: both are rebuilt
    client.delete_model_version("demo", "2")
    import lancedb

    table = state["resources"]["index.demo"]["outputs"]
    lancedb.connect(table["uri"]).drop_table(table["table"])
    changes = _plan(repo)
    assert changes["package.demo"]["action"] == "replace"
    assert "version 2 of `demo` is gone" in changes["package.demo"]["reasons"][0]["new"]
    assert changes["index.demo"]["action"] == "replace"
    assert f"table `{table['table']}` is gone" in changes["index.demo"]["reasons"][0]["new"]
    healed = _run(repo, "apply", "specs/demo.yaml", "-e", "dev")
    assert healed.returncode == 0, healed.stdout[-2000:] + healed.stderr[-2000:]
    assert all(c["action"] == "no-op" for c in _plan(repo).values())

    # the state lost: what exists is adopted, not built again (`state import`)
    version = json.loads(
        _run(repo, "state", "show", "specs/demo.yaml", "-e", "dev", "--json").stdout
    )["resources"]["package.demo"]["outputs"]["version"]
    import shutil

    shutil.rmtree(repo / ".llmspec" / "state")
    shutil.rmtree(repo / ".llmspec" / "artifacts")  # and the build store: nothing to reuse
    assert _plan(repo)["package.demo"]["action"] == "create"
    for argv in (["package.demo", "--version", str(version)], ["promote.demo@dev"], ["index.demo"]):
        adopted = _run(repo, "state", "import", "specs/demo.yaml", "-e", "dev", *argv)
        assert adopted.returncode == 0, adopted.stderr
        assert adopted.stdout.startswith(f"imported {argv[0]} in dev")
    after = _plan(repo)
    assert {a: after[a]["action"] for a in ("package.demo", "promote.demo@dev", "index.demo")} == {
        "package.demo": "no-op", "promote.demo@dev": "no-op", "index.demo": "no-op",
    }  # fmt: skip
    again = _run(repo, "state", "import", "specs/demo.yaml", "-e", "dev", "index.demo")
    assert again.returncode == 1 and "LS860" in again.stderr and "already recorded" in again.stderr
    data = _run(repo, "state", "import", "specs/demo.yaml", "-e", "dev", "dataset.train")
    assert data.returncode == 1 and "cannot be imported" in data.stderr
    journal = _run(repo, "state", "show", "specs/demo.yaml", "-e", "dev", "--journal", "--json")
    assert [e["event"] for e in json.loads(journal.stdout)].count("import") == 3
