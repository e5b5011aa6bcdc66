"""Third-party step kinds load through the `llmspec.steps` entry point group."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.engine.conftest import SPEC, process_env

PLUGIN = """
from llmspec.steps.base import ResourceDecl, Step


class NotifyStep(Step):
    kind = "notify"

    def declare(self, ctx):
        app = ctx.spec.metadata.name
        yield ResourceDecl(self.kind, "slack", {"channel": "#ml"}, (), (f"package.{app}",))

    def run(self, resource, ctx):
        return {"sent": True}
"""


def test_entry_point_step_kind_joins_the_graph(project: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "acme_notify-1.0.dist-info").mkdir(parents=True)
    (site / "acme_notify.py").write_text(textwrap.dedent(PLUGIN))
    (site / "acme_notify-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-notify\nVersion: 1.0\n"
    )
    (site / "acme_notify-1.0.dist-info" / "entry_points.txt").write_text(
        "[llmspec.steps]\nnotify = acme_notify:NotifyStep\n"
    )
    env = process_env()
    env["PYTHONPATH"] = f"{site}:{env['PYTHONPATH']}"
    result = subprocess.run(
        [sys.executable, "-m", "llmspec", "plan", SPEC, "-e", "dev", "--json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    change = next(c for c in json.loads(result.stdout)["changes"] if c["address"] == "notify.slack")
    assert change["action"] == "create" and change["depends_on"] == ["package.support-bot"]


def test_the_import_paths_plug_ins_used_before_the_rooms_still_load() -> None:
    import llmspec.steps.base as base
    import llmspec.steps.index as index
    from llmspec.engine.step import DEFAULT_ENV, Step
    from llmspec.kinds.index.step import IndexStep

    assert base.Step is Step and base.DEFAULT_ENV == DEFAULT_ENV
    assert index.IndexStep is IndexStep  # a plug-in replacing a built-in kind subclasses it
