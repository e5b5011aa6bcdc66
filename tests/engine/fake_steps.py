"""Test-only step kinds that stand in for executors later versions build (index, finetune,
package, eval, promote). They keep the built-in declarations (so plans are real) and replace
`run` with cheap work that leaves evidence: a line per start and finish in a run log, and an
output file in the resource's content-addressed folder."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from llmspec.engine.registry import register
from llmspec.engine.step import Resource, RunContext
from llmspec.kinds.evaluate.step import EvalStep
from llmspec.kinds.finetune.step import FinetuneStep
from llmspec.kinds.index.step import IndexStep
from llmspec.kinds.package.step import PackageStep
from llmspec.kinds.promote.step import PromoteStep

LOG = "LLMSPEC_FAKE_LOG"  # file the fake steps append "start/done ADDRESS" lines to
SLOW = "LLMSPEC_FAKE_SLOW"  # address of a step that sleeps SLOW_SECONDS while running
FAIL = "LLMSPEC_FAKE_FAIL"  # address of a step that fails


def _log(line: str) -> None:
    path = os.environ.get(LOG)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())


class _Fake:
    def run(self, resource: Resource, ctx: RunContext) -> dict[str, Any]:
        _log(f"start {resource.address}")
        if os.environ.get(SLOW) == resource.address:
            time.sleep(float(os.environ.get("LLMSPEC_FAKE_SLOW_SECONDS", "30")))
        if os.environ.get(FAIL) == resource.address:
            raise RuntimeError("planted failure")
        ctx.artifact_dir.mkdir(parents=True, exist_ok=True)
        out = Path(ctx.artifact_dir) / "output.txt"
        out.write_text(resource.inputs_digest, encoding="utf-8")
        _log(f"done {resource.address}")
        return {"path": str(out), "env": ctx.env}

    def reuse(self, resource: Resource, built: Any, ctx: RunContext) -> dict[str, Any]:
        _log(f"reuse {resource.address}")
        return dict(built)


class FakeIndex(_Fake, IndexStep):  # type: ignore[misc]
    pass


class FakeFinetune(_Fake, FinetuneStep):  # type: ignore[misc]
    pass


class FakePackage(_Fake, PackageStep):  # type: ignore[misc]
    pass


class FakeEval(_Fake, EvalStep):  # type: ignore[misc]
    pass


class FakePromote(_Fake, PromoteStep):  # type: ignore[misc]
    pass


def install() -> None:
    for step in (FakeIndex(), FakeFinetune(), FakePackage(), FakeEval(), FakePromote()):
        register(step)
