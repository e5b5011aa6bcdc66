"""Benchmark `llmspec validate`: cold start against importing pydantic, and bulk throughput.

    python bench/bench_validate.py [--runs 15] [--specs 500]

Prints ratios, asserts nothing. Targets: cold ratio <= 1.5; >= 300 spec-environments per second.
"Cold" is a new process on a machine that has validated before: bytecode compiled (as pip
compiles an installed package) and llmspec's user cache filled (the built validator, template
analyses); the first run with an empty user cache is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "specs" / "support-bot.yaml"


def wall(cmd: list[str], runs: int, env: dict[str, str], fresh_cache: bool = False) -> float:
    """Median wall time of a fresh process (the first run warms the OS file cache and, unless
    ``fresh_cache``, llmspec's user cache)."""
    subprocess.run(cmd, capture_output=True, check=False, env=env)
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            run_env = {**env, "LLMSPEC_CACHE": cache} if fresh_cache else env
            started = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=False, env=run_env)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def llmspec_command() -> list[str]:
    script = Path(sys.executable).with_name("llmspec")
    return [str(script)] if script.exists() else [sys.executable, "-m", "llmspec"]


def child_environment(folder: Path) -> dict[str, str]:
    """Bytecode cached (in a folder of the bench's own), as an installed package has it; a
    user cache of the bench's own, so that it neither reads nor fills the user's."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    env["LLMSPEC_CACHE"] = str(folder / "cache")
    return env


def cold(runs: int, env: dict[str, str]) -> None:
    validate_cmd = [*llmspec_command(), "validate", str(EXAMPLE)]
    validate = wall(validate_cmd, runs, env)
    first = wall(validate_cmd, runs, env, fresh_cache=True)
    pydantic = wall([sys.executable, "-c", "from pydantic import BaseModel"], runs, env)
    one_model = wall(
        [
            sys.executable,
            "-c",
            "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int = 0\nM(x=1)",
        ],
        runs,
        env,
    )
    models = wall(
        [sys.executable, "-c", "import llmspec.spec, yaml"], runs, {**env, "PYTHONPATH": str(ROOT)}
    )
    python = wall([sys.executable, "-c", "pass"], runs, env)
    print(
        f"cold `llmspec validate {EXAMPLE.relative_to(ROOT)}`: {validate * 1000:.0f} ms "
        f"(median of {runs})"
    )
    print(
        f"  / `python -c 'from pydantic import BaseModel'` ({pydantic * 1000:.0f} ms): "
        f"ratio {validate / pydantic:.2f}  (target <= 1.5)"
    )
    print(
        f"  / a one-field pydantic model ({one_model * 1000:.0f} ms): "
        f"ratio {validate / one_model:.2f}"
    )
    print(
        f"  first run with an empty user cache (builds the validator, parses templates): "
        f"{first * 1000:.0f} ms, ratio {first / pydantic:.2f}"
    )
    print(
        f"  the spec's pydantic models and PyYAML alone (`import llmspec.spec, yaml`): "
        f"{models * 1000:.0f} ms, ratio {models / pydantic:.2f}"
    )
    print(f"  (bare interpreter start: {python * 1000:.0f} ms)")


def make_specs(folder: Path, count: int, tag: str) -> list[Path]:
    """``count`` distinct specs (own names, templates and data) with 3 environments each."""
    shutil.copytree(ROOT / "specs" / "data", folder / "data")
    (folder / ".git").mkdir()
    shutil.copytree(ROOT / "specs" / "evals", folder / "evals")
    text = EXAMPLE.read_text(encoding="utf-8")
    paths = []
    for i in range(count):
        spec = (
            text.replace("name: support-bot", f"name: support-bot-{i}")
            .replace("### Question", f"### Question {tag}-{i}")  # no template is seen twice
            .replace("table: help_center", f"table: help_center_{i}")
        )
        path = folder / f"app{i:04d}.yaml"
        path.write_text(spec, encoding="utf-8")
        paths.append(path)
    return paths


def throughput(count: int, repeats: int, env: dict[str, str]) -> None:
    os.environ["LLMSPEC_CACHE"] = env["LLMSPEC_CACHE"]
    sys.path.insert(0, str(ROOT))
    from llmspec.api import validate

    rates = []
    for repeat in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            paths = make_specs(Path(tmp), count, str(repeat))
            started = time.perf_counter()
            report = validate(paths, envs=["dev", "staging", "prod"])
            elapsed = time.perf_counter() - started
        assert report.errors == 0, report.diagnostics[:3]
        rates.append(report.checked / elapsed)
    print(
        f"validate {count} specs x 3 environments in one process: "
        f"{statistics.median(rates):.0f} spec-environments/s, median of {repeats} "
        f"(min {min(rates):.0f}, max {max(rates):.0f}); target >= 300"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--specs", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = child_environment(Path(folder))
        cold(args.runs, env)
        throughput(args.specs, args.repeats, env)


if __name__ == "__main__":
    main()
