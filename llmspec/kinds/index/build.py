"""Build a LanceDB table from a corpus: incrementally, by chunk content digest.

Rows are keyed by a digest of (document id, chunk text): an edit re-embeds only the chunks whose
text changed, and one `merge_insert` (insert new, keep unchanged, delete gone) writes the next
table version. A change of chunking or embedding model (the plan says `replace`) re-embeds
everything into a new version of the same table; earlier versions stay readable, and each build
is tagged, so a served model pinned to a version never sees a half-built index. Vectors are
stored explicitly (not through LanceDB's embedding registry, which writes the model's absolute
path into table metadata and breaks a table moved to another machine).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from llmspec.core.secrets import SecretRef
from llmspec.engine.step import Resource, RunContext, StepFailed
from llmspec.kinds.index.chunking import chunk_document
from llmspec.kinds.index.documents import CorpusError, Document, load_documents
from llmspec.kinds.index.outputs import IndexOutputs
from llmspec.plans.digest import digest_of
from llmspec.runtime.embedding import Embedder, quiet_libraries, resolve_model

MODEL_KEY = b"llmspec.embedding"
REMOTE = ("s3://", "gs://", "az://", "abfs://", "memory://")


def store_uri(uri: str, repo_root: Path) -> str:
    return uri if uri.startswith(REMOTE) else str((repo_root / uri).resolve())


def storage_options(options: dict[str, Any], uri: str = "") -> dict[str, str]:
    """LanceDB's object-store options for ``uri``: the standard variables' endpoint and region
    (runtime.storage), then the spec's, credentials resolved from secret references only here."""
    from llmspec.runtime.storage import lance_options

    given = {k: v.resolve() if isinstance(v, SecretRef) else str(v) for k, v in options.items()}
    return lance_options(uri, given)


def build_index(
    resource: Resource, ctx: RunContext, embedder: Embedder | None = None
) -> dict[str, Any]:
    """Build (or update) the table; ``embedder`` lets a caller reuse a loaded model."""
    quiet_libraries()
    import lancedb

    retrieval = ctx.spec.retrieval
    assert retrieval is not None  # the step declares an index only for specs with retrieval
    embedding, store = retrieval.embedding, retrieval.store
    model = resolve_model(embedding.model, embedding.revision, ctx.spec_dir)
    embedder = embedder or Embedder(
        model,
        embedding.batch_size,
        embedding.device,
        embedding.normalize,
        embedding.revision,
        embedding.query_prompt,
        embedding.document_prompt,
    )
    # a model folder of the repository is identified by its files' content: new weights
    # must re-embed every chunk, even though the folder's name did not change
    model_files = {
        k: v
        for k, v in resource.file_digests.items()
        if k.startswith(embedding.model.rstrip("/") + "/")
    }
    model_key = model.identity + ("#" + digest_of(model_files) if model_files else "")
    uri = store_uri(str(resource.settings["uri"]), ctx.repo_root)
    db = lancedb.connect(uri, storage_options=storage_options(store.storage_options, uri) or None)
    name = str(resource.settings["table"])
    table = db.open_table(name) if name in _table_names(db) else None
    existing: dict[str, Any] = {}
    full = (
        table is None
        or ctx.action == "replace"
        or _model_of(table) != model_key
        or _dim_of(table) != embedder.dim
    )
    if not full:
        assert table is not None
        existing = _vectors_by_id(table)
    compute = resource.settings.get("compute") or {}
    if compute.get("backend") == "ray":
        from llmspec.kinds.index.ray_build import chunk_and_embed

        chunking = retrieval.chunking.model_dump(mode="json")
        rows, fresh = chunk_and_embed(
            read_corpus(resource, ctx), chunking, embedder, set(existing), compute["ray"], ctx
        )
        embedded = len(fresh)
    else:
        rows = chunk_rows(resource, ctx, embedder)
        to_embed = [row for row in rows if row["id"] not in existing]
        ctx.log(
            f"    {len(rows)} chunks: {len(to_embed)} to embed, "
            f"{len(rows) - len(to_embed)} unchanged"
        )
        vectors = embedder.encode([row["text"] for row in to_embed], progress=ctx.progress)
        fresh = {row["id"]: vectors[i] for i, row in enumerate(to_embed)}
        embedded = len(to_embed)
    data = _arrow(rows, {**existing, **fresh}, embedder.dim, model_key)
    if full:
        table = db.create_table(name, data, mode="overwrite")
    else:
        assert table is not None
        (
            table.merge_insert("id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .when_not_matched_by_source_delete()
            .execute(data)
        )
    indexes = _indexes(table, retrieval, len(rows), embedder.dim)
    version = int(table.version)
    tag = f"llmspec-{resource.inputs_digest.split(':')[-1][:16]}"
    try:
        table.tags.create(tag, version)
    except Exception:  # the same digest built before: its tag already names a version
        table.tags.update(tag, version)
    return IndexOutputs(
        uri=uri,
        table=name,
        version=version,
        tag=tag,
        rows=len(rows),
        embedded=embedded,
        deleted=len(set(existing) - {r["id"] for r in rows}),
        full_rebuild=full,
        model=model.identity,
        dim=embedder.dim,
        indexes=tuple(indexes),
    ).to_outputs()


def chunk_rows(resource: Resource, ctx: RunContext, embedder: Embedder) -> list[dict[str, Any]]:
    retrieval = ctx.spec.retrieval
    assert retrieval is not None
    chunking = retrieval.chunking.model_dump(mode="json")
    measure = embedder.count_tokens if chunking["unit"] == "tokens" else len
    rows: list[dict[str, Any]] = []
    for doc in read_corpus(resource, ctx):
        rows += document_rows(doc, chunking, measure)
    return rows


def read_corpus(resource: Resource, ctx: RunContext) -> list[Document]:
    retrieval = ctx.spec.retrieval
    assert retrieval is not None
    corpus = retrieval.corpus
    fields = corpus.fields.model_dump() if corpus.fields else None
    try:
        return list(
            load_documents(ctx.spec_dir, resource.settings["corpus"], corpus.format, fields)
        )
    except CorpusError as exc:
        from llmspec.core.diagnostics import error

        raise StepFailed([error("LS602", f"cannot read the corpus: {exc}")]) from None


def document_rows(
    doc: Document, chunking: dict[str, Any], measure: Callable[[str], int]
) -> list[dict[str, Any]]:
    """One document's rows, keyed by a digest of (document, chunk text, occurrence)."""
    rows = []
    seen: dict[str, int] = {}
    for chunk in chunk_document(
        doc, chunking["strategy"], chunking["size"], chunking["overlap"], measure
    ):
        if not chunk.text:
            continue
        # the same text twice in a document (a repeated notice under two headings) is two
        # rows: the occurrence number keeps their keys apart, and stable across builds
        occurrence = seen.get(chunk.text, 0)
        seen[chunk.text] = occurrence + 1
        key = hashlib.sha256(f"{doc.doc_id}\0{chunk.text}\0{occurrence}".encode()).hexdigest()
        rows.append(
            {
                "id": key[:32],
                "doc_id": doc.doc_id,
                "source": doc.source,
                "text": chunk.text,
                "heading": chunk.heading,
                "line_start": chunk.line_start,
                "line_end": chunk.line_end,
                "metadata": json.dumps(doc.metadata, sort_keys=True),
            }
        )
    return rows


def _table_names(db: Any) -> list[str]:
    listed = db.list_tables()
    return list(getattr(listed, "tables", listed))


def _model_of(table: Any) -> str | None:
    metadata = table.schema.metadata or {}
    value = metadata.get(MODEL_KEY)
    return value.decode() if value else None


def _dim_of(table: Any) -> int:
    return int(table.schema.field("vector").type.list_size)


def _vectors_by_id(table: Any) -> dict[str, Any]:
    data = table.to_arrow().select(["id", "vector"])
    ids = data.column("id").to_pylist()
    vectors = data.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    dim = len(vectors) // max(len(ids), 1)
    return {ids[i]: vectors[i * dim : (i + 1) * dim] for i in range(len(ids))}


def _arrow(rows: list[dict[str, Any]], vectors: dict[str, Any], dim: int, model: str) -> Any:
    import numpy as np
    import pyarrow as pa

    flat = (
        np.stack([vectors[row["id"]] for row in rows]).astype(np.float32).reshape(-1)
        if rows
        else np.zeros(0, dtype=np.float32)
    )
    schema = pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field("doc_id", pa.string()),
            pa.field("source", pa.string()),
            pa.field("text", pa.string()),
            pa.field("heading", pa.string()),
            pa.field("line_start", pa.int32()),
            pa.field("line_end", pa.int32()),
            pa.field("metadata", pa.string()),
            pa.field("vector", pa.list_(pa.float32(), dim)),
        ],
        metadata={MODEL_KEY: model.encode()},
    )
    columns = {name: [row[name] for row in rows] for name in schema.names if name != "vector"}
    columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(flat), dim)
    return pa.table(columns, schema=schema)


def _indexes(table: Any, retrieval: Any, rows: int, dim: int) -> list[str]:
    from lancedb.index import FTS, HnswPq, HnswSq, IvfPq

    made = []
    if retrieval.store.full_text:
        table.create_index("text", config=FTS(), replace=True)
        made.append("fts")
    settings = retrieval.store.index
    kind = settings.type
    if kind == "none" or (kind == "auto" and rows < settings.min_rows) or rows < 256:
        return made  # exact search: small tables, or too few rows to train partitions
    partitions = settings.num_partitions or max(1, int(math.sqrt(rows)))
    metric = settings.metric
    if kind in ("auto", "ivf_pq"):
        sub = settings.num_sub_vectors or _sub_vectors(dim)
        config: Any = IvfPq(distance_type=metric, num_partitions=partitions, num_sub_vectors=sub)
    elif kind == "ivf_hnsw_sq":
        config = HnswSq(distance_type=metric, num_partitions=partitions)
    else:
        config = HnswPq(
            distance_type=metric,
            num_partitions=partitions,
            num_sub_vectors=settings.num_sub_vectors or _sub_vectors(dim),
        )
    table.create_index("vector", config=config, replace=True)
    made.append(kind if kind != "auto" else "ivf_pq")
    return made


def _sub_vectors(dim: int) -> int:
    """The largest divisor of dim that gives sub-vectors of at least 8 dimensions."""
    for candidate in range(max(1, dim // 8), 0, -1):
        if dim % candidate == 0:
            return candidate
    return 1


def copy_table(built: IndexOutputs, target_uri: str, name: str, ctx: RunContext) -> dict[str, Any]:
    """Another environment's table version copied into this one's store, vectors included."""
    import lancedb

    given = ctx.spec.retrieval.store.storage_options if ctx.spec.retrieval else {}
    source_options = storage_options(given, built.uri) or None
    source = lancedb.connect(built.uri, storage_options=source_options).open_table(built.table)
    source.checkout(built.version)
    data = source.to_arrow()
    target = lancedb.connect(target_uri, storage_options=storage_options(given, target_uri) or None)
    table = target.create_table(name, data, mode="overwrite")
    retrieval = ctx.spec.retrieval
    indexes = _indexes(table, retrieval, len(data), built.dim) if retrieval else []
    copied = replace(
        built,
        uri=target_uri,
        table=name,
        version=int(table.version),
        copied_from=built.pinned,
        indexes=tuple(indexes),
        embedded=0,
    )
    return copied.to_outputs()
