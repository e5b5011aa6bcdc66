"""`retrieval.compute.backend: ray`: chunk and embed the corpus with Ray Data.

The corpus is read here (its files are this repository's); the documents go to the cluster as
a dataset. Ray tasks chunk them (`map_batches` of a function), and the chunks that are not in
the table yet go through `map_batches` over an actor pool, each actor loading the embedding
model once. The rows come back in the corpus's order and the caller writes them to LanceDB as a
local build does: the same table, row for row, and only changed chunks embedded.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Mapping
from typing import Any

from llmspec.core.diagnostics import SpecError
from llmspec.engine.step import RunContext, StepFailed
from llmspec.integrations import ray as cluster
from llmspec.kinds.index.documents import Document
from llmspec.runtime.embedding import Embedder


def chunk_batch(
    batch: Mapping[str, Any], chunking: dict[str, Any], embedder: dict[str, Any]
) -> dict[str, list[Any]]:
    """A batch of documents → their rows (a Ray task: no model, a tokenizer at most)."""
    from llmspec.kinds.index.build import document_rows

    measure = Embedder(**embedder).count_tokens if chunking["unit"] == "tokens" else len
    rows: list[dict[str, Any]] = []
    for order, document in zip(batch["order"], batch["document"], strict=True):
        doc = Document(**json.loads(str(document)))
        for n, row in enumerate(document_rows(doc, chunking, measure)):
            rows.append({**row, "order": int(order), "n": n})
    return {"id": [r["id"] for r in rows], "row": [json.dumps(r) for r in rows]}


def unknown(batch: Mapping[str, Any], known: frozenset[str]) -> dict[str, list[Any]]:
    keep = [i for i, key in enumerate(batch["id"]) if str(key) not in known]
    return {"id": [batch["id"][i] for i in keep], "row": [batch["row"][i] for i in keep]}


class Embed:
    """An actor of the pool: the embedding model, loaded once."""

    def __init__(self, embedder: dict[str, Any]) -> None:
        self.embedder = Embedder(**embedder)

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list[Any]]:
        texts = [json.loads(str(row))["text"] for row in batch["row"]]
        vectors = self.embedder.encode(texts)
        return {"id": list(batch["id"]), "vector": [[float(x) for x in v] for v in vectors]}


def settings(embedder: Embedder) -> dict[str, Any]:
    """What an actor builds its own embedder from (a loaded model does not travel)."""
    return {
        "ref": embedder.ref,
        "batch_size": embedder.batch_size,
        "device": embedder.configured_device,
        "normalize": embedder.normalize,
        "revision": embedder.revision,
        "query_prompt": embedder.prompts["query"],
        "document_prompt": embedder.prompts["document"],
    }


def chunk_and_embed(
    documents: list[Document],
    chunking: dict[str, Any],
    embedder: Embedder,
    existing: set[str],
    pool: Mapping[str, Any],
    ctx: RunContext,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The corpus's rows (in order) and the vectors of the chunks embedded now, by id."""
    import numpy as np

    workers = int(pool["workers"])
    try:
        cluster.require_ray("`retrieval.compute.backend: ray`")
        address = cluster.address_of(pool.get("address"), "`retrieval.compute.backend: ray`")
        with cluster.driver(address, {"py_modules": [cluster.code_package()]}) as ray:
            import ray.data

            from llmspec.runtime.ray_predict import quiet_ray_data

            quiet_ray_data()  # its progress bars would draw over apply's own
            ctx.log(f"    {len(documents)} documents to chunk and embed on Ray ({workers} actors)")
            items = [
                {"order": i, "document": json.dumps(dataclasses.asdict(doc))}
                for i, doc in enumerate(documents)
            ]
            with warnings.catch_warnings():  # Ray Data's advice on pools and blocks
                warnings.simplefilter("ignore")
                chunked = (
                    ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 16)))
                    .map_batches(chunk_batch, fn_args=(chunking, settings(embedder)), batch_size=64)
                    .materialize()
                )
                rows = [json.loads(item["row"]) for item in chunked.take_all()]
                fresh_rows = chunked.map_batches(unknown, fn_args=(frozenset(existing),))
                gpus = float(pool["gpus_per_worker"])
                embedded = fresh_rows.map_batches(
                    Embed,
                    fn_constructor_args=(settings(embedder),),
                    batch_size=int(pool["batch_size"]),
                    concurrency=workers,
                    num_cpus=float(pool["cpus_per_worker"]),
                    num_gpus=gpus or None,
                ).take_all()
    except SpecError as exc:
        raise StepFailed(list(exc.diagnostics)) from exc
    rows.sort(key=lambda row: (row["order"], row["n"]))
    for row in rows:
        del row["order"], row["n"]
    fresh = {str(item["id"]): np.asarray(item["vector"], dtype=np.float32) for item in embedded}
    ctx.log(f"    {len(rows)} chunks: {len(fresh)} embedded, {len(rows) - len(fresh)} unchanged")
    return rows, fresh
