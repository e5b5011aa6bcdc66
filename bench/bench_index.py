"""Benchmark the retrieval index (prints ratios; asserts nothing).

    python bench/bench_index.py [--docs 300] [--rows 100000] [--queries 200]

1. build throughput (chunks/s through load -> chunk -> embed -> write) divided by the raw
   throughput of the same model's encode on the same texts and batch size (target >= 0.85);
   the model is loaded once, before either, and its load time is printed on its own;
2. an incremental build after changing 1% of the documents divided by the full build
   (target <= 0.05);
3. ANN (IVF-PQ) query latency p50/p95 on N synthetic 384-d rows and its recall@10 against
   exact search (target recall >= 0.95 at p50 <= 10 ms).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
WORDS = [
    "account",
    "billing",
    "invoice",
    "refund",
    "password",
    "token",
    "export",
    "import",
    "project",
    "member",
    "team",
    "webhook",
    "limit",
    "request",
    "error",
    "status",
    "report",
    "dashboard",
    "chart",
    "filter",
    "search",
    "index",
    "mobile",
    "offline",
    "sync",
    "theme",
    "setting",
    "security",
    "backup",
    "restore",
    "archive",
    "plan",
    "upgrade",
]
SPEC = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata: {name: bench}
model: {source: builtin, id: tiny-gpt2}
prompts: {templates: {a: {template: "{{ question }}"}}}
retrieval:
  corpus: {paths: ["docs/*.md"]}
  chunking: {size: 128, overlap: 16}
  store: {table: docs}
environments: {dev: {}}
"""


def write_corpus(folder: Path, docs: int, seed: int = 0) -> list[Path]:
    rng = random.Random(seed)
    paths = []
    for i in range(docs):
        paragraphs = []
        for _ in range(4):
            sentences = [
                " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))) + "."
                for _ in range(rng.randint(3, 6))
            ]
            paragraphs.append(" ".join(sentences).capitalize())
        path = folder / "docs" / f"doc{i:05d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# Document {i}\n\n" + "\n\n".join(paragraphs) + "\n")
        paths.append(path)
    return paths


def index_pipeline(docs: int) -> None:
    from llmspec.api import resolve
    from llmspec.engine.apply import apply
    from llmspec.engine.registry import register
    from llmspec.engine.workspace import open_workspace
    from llmspec.kinds.index.build import build_index, chunk_rows
    from llmspec.kinds.index.step import IndexStep
    from llmspec.runtime.embedding import Embedder, resolve_model

    started = time.perf_counter()
    embedder = Embedder(resolve_model(MODEL), batch_size=64)
    embedder.encode(["warm up"])
    load = time.perf_counter() - started

    class WarmIndex(IndexStep):  # the engine's index step, with the model already loaded
        def run(self, resource: Any, ctx: Any) -> dict[str, Any]:
            return build_index(resource, ctx, embedder)

    register(WarmIndex())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".git").mkdir()
        (root / "app.yaml").write_text(SPEC)
        paths = write_corpus(root, docs)

        def build() -> tuple[float, dict[str, Any]]:
            ws = open_workspace(resolve(root / "app.yaml", "dev"))
            began = time.perf_counter()
            result = apply(ws, targets=["index.docs"])
            elapsed = time.perf_counter() - began
            assert result.ok, result.diagnostics
            return elapsed, ws.backend.read("bench", "dev").resources["index.docs"].outputs

        full_time, full = build()
        ws = open_workspace(resolve(root / "app.yaml", "dev"))
        graph = ws.graph()
        texts = [
            row["text"] for row in chunk_rows(graph.resources["index.docs"], _Ctx(ws), embedder)
        ]
        began = time.perf_counter()
        embedder.encode(texts)
        raw_time = time.perf_counter() - began
        for path in random.Random(1).sample(paths, max(1, docs // 100)):
            path.write_text(path.read_text().replace("Document", "Edited document", 1))
        incremental_time, incremental = build()
    build_rate, raw_rate = full["rows"] / full_time, len(texts) / raw_time
    print(f"model load (once, not in the ratios): {load:.1f} s")
    print(
        f"index build: {full['rows']} chunks from {docs} documents in {full_time:.1f} s = "
        f"{build_rate:.0f} chunks/s; raw encode of the same texts: {raw_rate:.0f} chunks/s; "
        f"ratio {build_rate / raw_rate:.2f} (target >= 0.85)"
    )
    print(
        f"incremental build after changing 1% of documents ({incremental['embedded']} chunks "
        f"re-embedded): {incremental_time:.2f} s; / full build: "
        f"{incremental_time / full_time:.3f} (target <= 0.05)"
    )


class _Ctx:
    """The little of a RunContext that chunking reads."""

    def __init__(self, ws: Any) -> None:
        self.spec = ws.resolved.spec
        self.spec_dir = Path(ws.resolved.path).resolve().parent


def ann(rows: int, queries: int, dim: int = 384) -> None:
    import lancedb
    import numpy as np
    import pyarrow as pa
    from lancedb.index import IvfPq

    from llmspec.kinds.index.build import _sub_vectors
    from llmspec.runtime.embedding import quiet_libraries

    quiet_libraries()
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(max(16, rows // 100), dim)).astype(np.float32)
    data = centres[rng.integers(0, len(centres), rows)] + 0.35 * rng.normal(
        size=(rows, dim)
    ).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    probe = data[rng.choice(rows, queries, replace=False)] + 0.05 * rng.normal(
        size=(queries, dim)
    ).astype(np.float32)
    probe /= np.linalg.norm(probe, axis=1, keepdims=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = lancedb.connect(tmp)
        table = db.create_table(
            "v",
            pa.table(
                {
                    "id": np.arange(rows),
                    "vector": pa.FixedSizeListArray.from_arrays(pa.array(data.reshape(-1)), dim),
                }
            ),
        )
        began = time.perf_counter()
        table.create_index(
            "vector",
            config=IvfPq(
                distance_type="cosine",
                num_partitions=int(rows**0.5),
                num_sub_vectors=_sub_vectors(dim),
            ),
        )
        index_time = time.perf_counter() - began
        exact = np.argsort(-(probe @ data.T), axis=1)[:, :10]
        latencies, recalls = [], []
        for i, q in enumerate(probe):
            began = time.perf_counter()
            found = (
                table.search(q)
                .distance_type("cosine")
                .nprobes(20)
                .refine_factor(10)
                .limit(10)
                .select(["id"])
                .to_list()
            )
            latencies.append((time.perf_counter() - began) * 1000)
            recalls.append(len({r["id"] for r in found} & set(exact[i].tolist())) / 10)
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(
        f"ANN on {rows:,} x {dim}-d rows (IVF-PQ built in {index_time:.0f} s): p50 "
        f"{p50:.1f} ms, p95 {p95:.1f} ms, recall@10 vs exact {statistics.mean(recalls):.3f} "
        f"(target recall >= 0.95 at p50 <= 10 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    index_pipeline(args.docs)
    ann(args.rows, args.queries)


if __name__ == "__main__":
    main()
