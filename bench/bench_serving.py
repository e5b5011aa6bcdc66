"""Benchmark the serving tiers side by side (prints ratios; asserts nothing).

    python bench/bench_serving.py [--vllm-python PATH] [--tokens 64] [--levels 1,8,32]
                                  [--requests-per-level 2] [--inprocess-requests 1]

A spec on the built-in SmolLM2-135M-Instruct (no retrieval, traces on, as served) is applied in
a temporary folder, then, on loopback, with the official `openai` client streaming every
request (so time to first token is seen by the client):

  (a) the in-process app server (`llmspec serve`, `serving.runtime: inprocess`: transformers'
      generate inside the app server);
  (b) the app on vLLM (`llmspec serve`, `serving.runtime: vllm`: the app server calls vLLM's
      CPU build, which lives in its own virtualenv: `--vllm-python` or LLMSPEC_VLLM_PYTHON);
  (c) bare vLLM: the same vLLM process as (b), called directly on its port.

Each level of concurrency sends `requests-per-level × concurrency` requests ((a):
`inprocess-requests × concurrency`, it is slow) after a warm-up, asking for a long story so that
the model writes its whole `--tokens` budget. Printed per tier and level: requests/s, tokens/s,
p50/p95 latency and p50/p95 time to first token; then the ratios the targets name:
(b) ÷ (c) requests/s at the highest level (target >= 0.9), (b) ÷ (a) there (target >= 10), and
(b) - (c) time to first token p50 (target <= 50 ms). The CPU seconds each server spent a request
in (b) and (c) come last: on a small machine the app server's CPU is taken from vLLM's.
`--set serving.monitoring.log_traces=false` compares without traces.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Tell me a long story about a lighthouse keeper and a storm."
SPEC = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata: {{name: bench-serving}}
model:
  source: builtin
  id: smollm2-135m-instruct
  generation: {{max_new_tokens: {tokens}, temperature: 0.0}}
prompts:
  templates:
    answer: {{template: "{{{{ question }}}}"}}
serving:
  runtime: vllm
  vllm: {{python: {python}, port: {vllm_port}, kv_cache_gib: 2, max_model_len: 2048}}
  registry: {{alias: dev}}
  targets: [{{kind: mlflow, port: {port}}}]
  monitoring: {{log_traces: true}}
environments: {{dev: {{}}}}
"""


@dataclass
class Level:
    concurrency: int
    requests: int
    seconds: float
    latencies: list[float]  # seconds
    first_tokens: list[float]
    tokens: int
    errors: int

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def quantile(self, values: list[float], q: int) -> float:
        if len(values) < 2:
            return values[0] if values else float("nan")
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def one(client: object, model: str, tokens: int) -> tuple[float, float, int]:
    """(latency, time to first token, completion tokens) of one streamed request."""
    began = time.perf_counter()
    first = None
    count = 0
    stream = await client.chat.completions.create(  # type: ignore[attr-defined]
        model=model,
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=tokens,
        temperature=0.0,
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content and first is None:
            first = time.perf_counter()
        if chunk.usage is not None:
            count = chunk.usage.completion_tokens
    ended = time.perf_counter()
    return ended - began, (first or ended) - began, count


async def level(url: str, model: str, concurrency: int, requests: int, tokens: int) -> Level:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, timeout=900)
    gate = asyncio.Semaphore(concurrency)

    async def bounded() -> tuple[float, float, int] | BaseException:
        async with gate:
            try:
                return await one(client, model, tokens)
            except Exception as exc:  # counted, not fatal: a benchmark reports errors
                return exc

    await asyncio.gather(*(bounded() for _ in range(min(concurrency, 4))))  # warm-up
    began = time.perf_counter()
    results = await asyncio.gather(*(bounded() for _ in range(requests)))
    seconds = time.perf_counter() - began
    await client.close()
    done = [r for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        print(f"    {len(failed)} failed, e.g. {type(failed[0]).__name__}: {failed[0]}")
    return Level(
        concurrency,
        requests,
        seconds,
        [d[0] for d in done],
        [d[1] for d in done],
        sum(d[2] for d in done),
        len(failed),
    )


def serve(
    root: Path, runtime: str, env: dict[str, str], overrides: list[str]
) -> subprocess.Popen[str]:
    sets = [arg for o in overrides for arg in ("--set", o)]
    process = subprocess.Popen(
        [sys.executable, "-m", "llmspec", "serve", "app.yaml", "-e", "dev",
         "--set", f"serving.runtime={runtime}", *sets],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("serving "):
        process.wait()
        raise SystemExit(
            f"`llmspec serve` ({runtime}) did not start:\n{line}{process.stderr.read()}"
        )  # type: ignore[union-attr]
    return process


def sessions_of(parent: int) -> dict[str, int]:
    """The servers `llmspec serve` started, each the leader of a session: name -> session."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if int(stat[1]) == parent:
                found["vllm" if b"vllm.entrypoints.openai.api_server" in argv else "app"] = int(
                    entry.name
                )
    return found


def cpu_seconds(session: int) -> float:
    """User + system CPU time of every process in a session, so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[3]) == session:
                total += int(stat[11]) + int(stat[12])
    return total / ticks


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


NAMES = {"a": "(a) in-process app", "b": "(b) app on vLLM", "c": "(c) bare vLLM"}


def row(name: str, result: Level) -> str:
    ms = 1000
    return (
        f"| {name} | {result.concurrency} | {len(result.latencies)} | {result.rps:.2f} | "
        f"{result.tokens / result.seconds:.0f} | "
        f"{statistics.median(result.latencies) * ms:.0f} | "
        f"{result.quantile(result.latencies, 95) * ms:.0f} | "
        f"{statistics.median(result.first_tokens) * ms:.0f} | "
        f"{result.quantile(result.first_tokens, 95) * ms:.0f} | {result.errors} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vllm-python", default=os.environ.get("LLMSPEC_VLLM_PYTHON"))
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--requests-per-level", type=int, default=2)
    parser.add_argument("--inprocess-requests", type=int, default=1)
    parser.add_argument("--tiers", default="a,b,c", help="which of (a), (b), (c) to run")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[],
        help="a spec override for the served app (as `llmspec serve --set`), to compare",
    )  # fmt: skip
    args = parser.parse_args()
    tiers = set(args.tiers.split(","))
    python = args.vllm_python or str(ROOT / ".venv-vllm" / "bin" / "python")
    if not Path(python).is_file():
        raise SystemExit(f"no vLLM interpreter at {python}: see the README (vLLM's CPU build)")
    levels = [int(n) for n in args.levels.split(",")]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".git").mkdir()
        port, vllm_port = free_port(), free_port()
        spec = SPEC.format(tokens=args.tokens, python=python, vllm_port=vllm_port, port=port)
        (root / "app.yaml").write_text(spec)
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "llmspec", "apply", "app.yaml", "-e", "dev"],
            cwd=root, env=env, capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(done.stdout + done.stderr)
        print(f"applied in {time.perf_counter() - began:.0f} s (in no figure)")
        results: dict[str, dict[int, Level]] = {"a": {}, "b": {}, "c": {}}
        # CPU seconds a request (warm-up included, so a little high), by server
        cpu: dict[str, dict[int, dict[str, float]]] = {"b": {}, "c": {}}
        app, bare = f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{vllm_port}/v1"

        if tiers & {"b", "c"}:
            server = serve(root, "vllm", env, args.overrides)
            try:
                for n in levels:  # (b) and (c) on the same vLLM process, one after the other
                    requests = args.requests_per_level * n
                    for tier, url, model in (("c", bare, "base"), ("b", app, "bench-serving")):
                        if tier in tiers:
                            servers = sessions_of(server.pid)
                            before = {k: cpu_seconds(v) for k, v in servers.items()}
                            results[tier][n] = asyncio.run(
                                level(url, model, n, requests, args.tokens)
                            )
                            used = {k: cpu_seconds(v) - before[k] for k, v in servers.items()}
                            cpu[tier][n] = {k: v / requests for k, v in used.items()}
                            print(row(tier, results[tier][n]), flush=True)
            finally:
                stop(server)
        if "a" in tiers:
            server = serve(root, "inprocess", env, args.overrides)
            try:
                for n in levels:
                    requests = args.inprocess_requests * n
                    results["a"][n] = asyncio.run(
                        level(app, "bench-serving", n, requests, args.tokens)
                    )
                    print(row("a", results["a"][n]), flush=True)
            finally:
                stop(server)

    names = NAMES
    print(f"\nSmolLM2-135M-Instruct, {args.tokens} tokens a request, streamed, loopback, "
          f"{os.cpu_count()} CPUs\n")  # fmt: skip
    print("| tier | concurrency | requests | req/s | tokens/s | p50 ms | p95 ms | "
          "TTFT p50 ms | TTFT p95 ms | errors |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for tier in ("a", "b", "c"):
        for n in results[tier]:
            print(row(names[tier], results[tier][n]))
    print("\nCPU seconds a request (warm-up included), by server:")
    for tier in ("b", "c"):
        for n, used in cpu[tier].items():
            said = ", ".join(f"{k} {v:.3f}" for k, v in sorted(used.items()) if v >= 0.0005)
            print(f"  {names[tier]} at {n}: {said}")
    if tiers != {"a", "b", "c"}:
        return
    top = max(levels)
    b, c, a = results["b"][top], results["c"][top], results["a"][top]
    print(f"\n(b) ÷ (c) requests/s at concurrency {top}: {b.rps / c.rps:.2f} (target >= 0.9)")
    print(f"(b) ÷ (a) requests/s at concurrency {top}: {b.rps / a.rps:.1f} (target >= 10)")
    for n in levels:
        gap = statistics.median(results["b"][n].first_tokens) - statistics.median(
            results["c"][n].first_tokens
        )
        print(f"(b) - (c) TTFT p50 at concurrency {n}: {gap * 1000:+.0f} ms (target <= 50 ms)")


if __name__ == "__main__":
    main()
