"""Benchmark the Ray backends against the local ones, in one run (prints ratios; asserts
nothing). It starts its own two-node cluster (`ray start --head` plus a joined node, one CPU
each, as the tests do) and stops it at the end.

    python bench/bench_ray.py [--steps 10] [--docs 200] [--repeat 2]

1. a fine-tune of `--steps` steps on the built-in model, applied with `backend: ray` (2 workers,
   DDP on gloo) and with `backend: local` (`accelerate launch`, one process) at the same global
   batch: the wall time of each apply (a fresh repository each time, the same probes before and
   after training), and the time from the MLflow run's start to the first training step, whose
   difference is the overhead of submitting to Ray (target <= 15 s);
2. the index build's embedding throughput (chunks/s) on Ray Data with 2 actors against the
   local build, the packaged MiniLM, `--docs` synthetic documents.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench_index import WORDS  # the index bench's vocabulary (this folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FACTS = [
    (f"What is the code of room {n}?", f"Room {n} uses code {n * 7 % 100:02d}.") for n in range(8)
]
TUNE = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata: {name: bench-tune}
model: {source: builtin, id: tiny-gpt2}
prompts:
  templates:
    answer: {template: "Q: {{ question }}\\nA:"}
finetune:
  dataset: {train: train.jsonl, validation_split: 0.0}
  lora: {target_modules: all-linear}
  training: {max_steps: STEPS, batch_size: BATCH, checkpoint_steps: 5}
  compute: {device: cpu, backend: BACKEND, ray: {workers: 2}}
environments: {dev: {}}
"""
INDEX = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata: {name: bench-index}
model: {source: builtin, id: tiny-gpt2}
prompts:
  templates:
    answer: {template: "{% for d in context %}{{ d.text }}{% endfor %} {{ question }}"}
retrieval:
  corpus: {paths: ["docs/*.md"]}
  chunking: {size: 64, overlap: 8}
  store: {table: docs}
  compute: {backend: BACKEND, ray: {workers: 2, batch_size: 8}}
environments: {dev: {}}
"""


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def cluster() -> Iterator[dict[str, str]]:
    root = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RAY_"))}
    env.update(PATH=f"{BIN}:{env.get('PATH', '')}", RAY_USAGE_STATS_ENABLED="0")
    port, dashboard = _port(), _port()
    common = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--object-store-memory=150000000"]
    ray = str(BIN / "ray")
    try:
        subprocess.run(
            [ray, "start", "--head", f"--port={port}", "--dashboard-host=127.0.0.1",
             f"--dashboard-port={dashboard}", f"--temp-dir={root}/head", *common],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [ray, "start", f"--address=127.0.0.1:{port}", f"--temp-dir={root}/node", *common],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        time.sleep(3)  # the second raylet registers
        yield {**env, "RAY_ADDRESS": f"http://127.0.0.1:{dashboard}", "GCS": f"127.0.0.1:{port}"}
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _repo(text: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    (root / ".git").mkdir()
    (root / "app.yaml").write_text(text)
    return root


def _apply(root: Path, env: dict[str, str], target: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "llmspec", "apply", "app.yaml", "-e", "dev", "--target", target],
        cwd=root, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    return time.perf_counter() - started


def finetune(env: dict[str, str], steps: int, backend: str) -> tuple[float, float]:
    """The apply's wall time, and the time to the first training step."""
    batch = 4 if backend == "ray" else 8  # the same global batch: 2 workers × 4, 1 × 8
    spec = TUNE.replace("STEPS", str(steps)).replace("BATCH", str(batch))
    root = _repo(spec.replace("BACKEND", backend))
    records = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in FACTS
    ]
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    try:
        seconds = _apply(root, env, "finetune.bench-tune")
        return seconds, _to_first_step(root, env)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _to_first_step(root: Path, env: dict[str, str]) -> float:
    """Seconds from the MLflow run's start to its first training step's loss: the launch (or
    the submission) and the workers' start-up, the same probe before training in both."""
    from mlflow import MlflowClient

    shown = subprocess.run(
        [sys.executable, "-m", "llmspec", "state", "show", "app.yaml", "-e", "dev", "--json"],
        cwd=root, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    outputs = json.loads(shown.stdout)["resources"]["finetune.bench-tune"]["outputs"]
    client = MlflowClient(tracking_uri=outputs["tracking_uri"])
    run = client.get_run(outputs["run_id"])
    first = min(m.timestamp for m in client.get_metric_history(outputs["run_id"], "loss"))
    return (first - run.info.start_time) / 1000


def index(env: dict[str, str], docs: int, backend: str) -> float:
    """Chunks per second of a full build."""
    root = _repo(INDEX.replace("BACKEND", backend))
    rng = random.Random(7)
    (root / "docs").mkdir()
    for n in range(docs):
        paragraphs = [" ".join(rng.choices(WORDS, k=60)) + "." for _ in range(4)]
        (root / "docs" / f"doc-{n:04d}.md").write_text(f"# Doc {n}\n\n" + "\n\n".join(paragraphs))
    driver = {**env, "RAY_ADDRESS": env["GCS"]}
    try:
        seconds = _apply(root, driver, "index.docs")
        shown = subprocess.run(
            [sys.executable, "-m", "llmspec", "state", "show", "app.yaml", "-e", "dev", "--json"],
            cwd=root, env=driver, capture_output=True, text=True, check=True,
        )  # fmt: skip
        rows = json.loads(shown.stdout)["resources"]["index.docs"]["outputs"]["rows"]
        return rows / seconds
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--parts", default="finetune,index", help="which comparisons to run")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    with cluster() as env:
        if "finetune" in parts:
            compare_finetunes(env, args.steps, args.repeat)
        if "index" in parts:
            compare_index_builds(env, args.docs, args.repeat)
        print(f"(this machine has {os.cpu_count()} cores: two actors share them with the driver)")


def compare_finetunes(env: dict[str, str], steps: int, repeat: int) -> None:
    finetune(env, 2, "ray")  # warm: the cluster's first job sets up its runtime env
    on_ray = [finetune(env, steps, "ray") for _ in range(repeat)]
    local = [finetune(env, steps, "local") for _ in range(repeat)]
    ray_t, local_t = (statistics.median(t for t, _ in runs) for runs in (on_ray, local))
    ray_f, local_f = (statistics.median(f for _, f in runs) for runs in (on_ray, local))
    print(f"fine-tune, {steps} steps (median of {repeat}):")
    print("                       apply wall time   run start to first step")
    print(f"  on Ray (2 workers)   {ray_t:9.1f} s       {ray_f:9.1f} s")
    print(f"  local (1 process)    {local_t:9.1f} s       {local_f:9.1f} s")
    print(f"  Ray - local          {ray_t - local_t:+9.1f} s       {ray_f - local_f:+9.1f} s")
    print(f"  Ray / local          {ray_t / local_t:9.2f}         {ray_f / local_f:9.2f}")
    print("  (the submission's overhead is the second column's difference, target <= 15 s;")
    print("   the first adds two DDP processes on gloo sharing two cores, and checkpoints")
    print("   persisted to the run's storage)")


def compare_index_builds(env: dict[str, str], docs: int, repeat: int) -> None:
    ray_rate = statistics.median(index(env, docs, "ray") for _ in range(repeat))
    local_rate = statistics.median(index(env, docs, "local") for _ in range(repeat))
    print(f"index build, {docs} documents (chunks/s of the whole build):")
    print(f"  Ray Data (2 actors)  {ray_rate:7.1f}")
    print(f"  local                {local_rate:7.1f}")
    print(f"  Ray / local          {ray_rate / local_rate:7.2f}")


if __name__ == "__main__":
    main()
