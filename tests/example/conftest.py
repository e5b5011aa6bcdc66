"""The example spec applied once for the session (`--target promote.support-bot@dev` in a copy of
the repository): the dev loop's tests and the serving tests read and extend it."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.example.support import llmspec


@pytest.fixture(scope="session")
def applied(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    repo = tmp_path_factory.mktemp("repo")
    shutil.copytree(ROOT / "specs", repo / "specs")
    (repo / ".git").mkdir()
    done = llmspec(
        "apply",
        "specs/support-bot.yaml",
        "-e",
        "dev",
        "--target",
        "promote.support-bot@dev",
        cwd=repo,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    state = json.loads(
        llmspec("state", "show", "specs/support-bot.yaml", "-e", "dev", "--json", cwd=repo).stdout
    )
    return {"repo": repo, "out": done.stdout, "err": done.stderr, "state": state}
