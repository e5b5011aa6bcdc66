"""`retrieval.compute.backend: ray`: chunk and embed the corpus with Ray Data.

The corpus is read here (its files are this repository's); the documents go to the cluster as
a dataset, and `map_batches` over an actor pool chunks them and embeds the chunks that are not
in the table yet, each actor loading the embedding model once (one stage: on small clusters a
separate stage of chunking tasks costs more than it spreads). The rows come back in the
corpus's order and the caller writes them to LanceDB as a local build does: the same table,
row for row, and only changed chunks embedded.
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


class ChunkAndEmbed:
    """One actor of the pool: its own embedder, the table's known chunk ids."""

    def __init__(
        self, embedder: dict[str, Any], chunking: dict[str, Any], existing: frozenset[str]
    ) -> None:
        self.embedder = Embedder(**embedder)
        self.chunking = chunking
        self.existing = existing
        self.measure = self.embedder.count_tokens if chunking["unit"] == "tokens" else len

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list[Any]]:
        from llmspec.kinds.index.build import document_rows

        rows: list[dict[str, Any]] = []
        for order, document in zip(batch["order"], batch["document"], strict=True):
            doc = Document(**json.loads(str(document)))
            for n, row in enumerate(document_rows(doc, self.chunking, self.measure)):
                rows.append({**row, "order": int(order), "n": n})
        fresh = [row for row in rows if row["id"] not in self.existing]
        vectors = self.embedder.encode([row["text"] for row in fresh])
        by_id = {row["id"]: [float(x) for x in vectors[i]] for i, row in enumerate(fresh)}
        return {
            "row": [json.dumps(row) for row in rows],
            "vector": [by_id.get(row["id"], []) for row in rows],
        }


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

    try:
        cluster.require_ray("`retrieval.compute.backend: ray`")
        address = cluster.address_of(pool.get("address"), "`retrieval.compute.backend: ray`")
        with cluster.driver(address, {"py_modules": [cluster.code_package()]}) as ray:
            import ray.data

            from llmspec.runtime.ray_predict import quiet_ray_data

            quiet_ray_data()  # its progress bars would draw over apply's own
            dataset = ray.data.from_items(
                [
                    {"order": i, "document": json.dumps(dataclasses.asdict(doc))}
                    for i, doc in enumerate(documents)
                ],
                override_num_blocks=max(1, min(len(documents), int(pool["workers"]) * 4)),
            )
            gpus = float(pool["gpus_per_worker"])
            embedded = dataset.map_batches(
                ChunkAndEmbed,
                fn_constructor_args=(settings(embedder), chunking, frozenset(existing)),
                batch_size=int(pool["batch_size"]),
                concurrency=int(pool["workers"]),
                num_cpus=float(pool["cpus_per_worker"]),
                num_gpus=gpus or None,
            )
            ctx.log(
                f"    {len(documents)} documents to chunk and embed on Ray "
                f"({pool['workers']} actors)"
            )
            with warnings.catch_warnings():  # Ray Data's advice on pools and blocks
                warnings.simplefilter("ignore")
                results = embedded.take_all()
    except SpecError as exc:
        raise StepFailed(list(exc.diagnostics)) from exc
    ordered = sorted(
        ((json.loads(r["row"]), r["vector"]) for r in results),
        key=lambda item: (item[0]["order"], item[0]["n"]),
    )
    rows, fresh = [], {}
    for row, vector in ordered:
        del row["order"], row["n"]
        rows.append(row)
        if len(vector):
            fresh[row["id"]] = np.asarray(vector, dtype=np.float32)
    ctx.log(f"    {len(rows)} chunks: {len(fresh)} embedded, {len(rows) - len(fresh)} unchanged")
    return rows, fresh
