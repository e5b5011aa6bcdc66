"""Benchmark `plan` and a no-op `apply` (prints ratios; asserts nothing).

    python bench/bench_plan.py [--specs 200] [--repeats 5]

1. plan for N specs x 3 environments with unchanged inputs and a warm file-digest cache, in one
   process: resources planned per second (target >= 1,000).
2. a no-op `apply -e dev` of the example against `plan -e dev` of it, after a first apply: the
   ratio of their times (target < 2). Executors that later versions provide (index, fine-tune,
   package, eval, promote) are stood in for by steps that only record a digest: the benchmark
   measures the engine, not model training.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EXAMPLE = "support-bot.yaml"
ENVS = ("dev", "staging", "prod")


def make_repo(folder: Path, count: int) -> list[Path]:
    shutil.copytree(ROOT / "specs", folder / "specs")
    (folder / ".git").mkdir()
    text = (folder / "specs" / EXAMPLE).read_text(encoding="utf-8")
    paths = []
    for i in range(count):
        path = folder / "specs" / f"app{i:04d}.yaml"
        path.write_text(
            text.replace("name: support-bot", f"name: app-{i}").replace(
                "table: help_center", f"table: t{i}"
            ),
            encoding="utf-8",
        )
        paths.append(path)
    return paths


def plan_all(paths: list[Path]) -> int:
    from llmspec.engine.workspace import open_workspace
    from llmspec.frontend import load, resolve

    resources = 0
    for path in paths:
        source = load(path)
        for env in ENVS:
            _, plan = open_workspace(resolve(source, env)).plan()
            resources += len(plan.changes)
    return resources


def throughput(count: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_repo(Path(tmp), count)
        os.chdir(tmp)
        plan_all(paths)  # warms the file-digest cache (and builds the validators)
        rates = []
        for _ in range(repeats):
            started = time.perf_counter()
            resources = plan_all(paths)
            rates.append(resources / (time.perf_counter() - started))
        os.chdir(ROOT)
    print(
        f"plan {count} specs x {len(ENVS)} environments, unchanged inputs, warm cache: "
        f"{statistics.median(rates):,.0f} resources/s (median of {repeats}; "
        f"{resources:,} resources per pass); target >= 1,000"
    )


def stand_ins() -> None:
    from llmspec.engine.registry import register, registry
    from llmspec.engine.step import Resource, RunContext

    for kind in ("index", "finetune", "package", "eval", "promote"):
        base = type(registry()[kind])

        def run(self: Any, resource: Resource, ctx: RunContext) -> dict[str, Any]:
            return {"digest": resource.inputs_digest}

        register(type(f"StandIn{base.__name__}", (base,), {"run": run})())


def noop_apply_ratio(repeats: int) -> None:
    import contextlib
    import io

    from llmspec.cli import main

    stand_ins()
    with tempfile.TemporaryDirectory() as tmp:
        make_repo(Path(tmp), 0)
        os.chdir(tmp)
        spec = f"specs/{EXAMPLE}"
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            assert main(["apply", spec, "-e", "dev"]) == 0, sink.getvalue()

        def timed(argv: list[str]) -> float:
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    assert main(argv) == 0
                times.append(time.perf_counter() - started)
            return statistics.median(times)

        plan = timed(["plan", spec, "-e", "dev"])
        apply = timed(["apply", spec, "-e", "dev"])
        os.chdir(ROOT)
    print(
        f"no-op apply -e dev: {apply * 1000:.1f} ms, plan -e dev: {plan * 1000:.1f} ms: "
        f"ratio {apply / plan:.2f} (target < 2)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--specs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    throughput(args.specs, max(1, args.repeats // 2))
    noop_apply_ratio(args.repeats * 4)


if __name__ == "__main__":
    main()
