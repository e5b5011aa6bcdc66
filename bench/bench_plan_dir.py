"""Benchmark `llmspec plan DIR` of many apps against `terraform plan -refresh=false` of 1,000
resources, side by side in one run.

    python bench/bench_plan_dir.py [--apps 125] [--resources 1000] [--runs 3]

Generates both: ``--apps`` copies of the example app (about 12 resources each in prod, each copy
with its own name, table and template) and a Terraform configuration of ``--resources``
``terraform_data`` resources (built in: no provider to download). Both plan from empty state.
Prints the medians and their ratio; asserts nothing. Target: ratio <= 0.6.
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


def wall(cmd: list[str], cwd: Path, runs: int, env: dict[str, str]) -> float:
    subprocess.run(cmd, cwd=cwd, capture_output=True, check=True, env=env)  # warms caches
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, capture_output=True, check=True, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def make_apps(folder: Path, count: int) -> int:
    (folder / ".git").mkdir(parents=True)
    specs = folder / "specs"
    specs.mkdir()
    shutil.copytree(ROOT / "specs" / "data", specs / "data")
    shutil.copytree(ROOT / "specs" / "evals", specs / "evals")
    text = EXAMPLE.read_text(encoding="utf-8")
    for i in range(count):
        spec = (
            text.replace("name: support-bot", f"name: app-{i:03d}")
            .replace("### Question", f"### Question {i}")
            .replace("table: help_center", f"table: help_center_{i}")
        )
        (specs / f"app-{i:03d}.yaml").write_text(spec, encoding="utf-8")
    return count


def make_terraform(folder: Path, count: int) -> None:
    folder.mkdir()
    blocks = [
        f'resource "terraform_data" "r{i}" {{\n  input = "value-{i}"\n}}\n' for i in range(count)
    ]
    (folder / "main.tf").write_text("\n".join(blocks), encoding="utf-8")
    subprocess.run(
        ["terraform", "init", "-input=false"], cwd=folder, capture_output=True, check=True
    )


def llmspec_command() -> list[str]:
    script = Path(sys.executable).with_name("llmspec")
    return [str(script)] if script.exists() else [sys.executable, "-m", "llmspec"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apps", type=int, default=125)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("terraform") is None:
        sys.exit("terraform is not installed: it is the anchor of this benchmark")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
        env["LLMSPEC_CACHE"] = str(base / "cache")
        env["TF_IN_AUTOMATION"] = "1"
        make_apps(base / "repo", args.apps)
        make_terraform(base / "tf", args.resources)
        plan = [*llmspec_command(), "plan", "specs", "-e", "prod", "--json"]
        done = subprocess.run(plan, cwd=base / "repo", capture_output=True, text=True, env=env)
        if done.returncode != 0:
            sys.exit(done.stderr[-2000:])
        import json

        resources = sum(len(p["changes"]) for p in json.loads(done.stdout)["apps"])
        ours = wall(plan, base / "repo", args.runs, env)
        terraform = wall(
            ["terraform", "plan", "-refresh=false", "-input=false", "-lock=false"],
            base / "tf",
            args.runs,
            env,
        )
    print(f"`llmspec plan specs/ -e prod`: {args.apps} apps, {resources} resources: {ours:.2f} s")
    print(f"`terraform plan -refresh=false`: {args.resources} resources: {terraform:.2f} s")
    print(f"ratio {ours / terraform:.2f}  (target <= 0.6; medians of {args.runs})")


if __name__ == "__main__":
    main()
