"""Benchmark `llmspec validate`: cold start against importing pydantic, and bulk throughput.

    python bench/bench_validate.py [--runs 15] [--specs 500]

Prints ratios, asserts nothing. Targets: cold ratio <= 1.5; >= 300 spec-environments per second.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "specs" / "support-bot.yaml"


def wall(cmd: list[str], runs: int) -> float:
    """Median wall time of a fresh process (the first run warms the OS file cache)."""
    subprocess.run(cmd, capture_output=True, check=False)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def llmspec_command() -> list[str]:
    script = Path(sys.executable).with_name("llmspec")
    return [str(script)] if script.exists() else [sys.executable, "-m", "llmspec"]


def cold(runs: int) -> None:
    validate = wall([*llmspec_command(), "validate", str(EXAMPLE)], runs)
    pydantic = wall([sys.executable, "-c", "from pydantic import BaseModel"], runs)
    one_model = wall(
        [
            sys.executable,
            "-c",
            "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int = 0\nM(x=1)",
        ],
        runs,
    )
    python = wall([sys.executable, "-c", "pass"], runs)
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


def throughput(count: int, repeats: int) -> None:
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
    cold(args.runs)
    throughput(args.specs, args.repeats)


if __name__ == "__main__":
    main()
