"""`retrieval`: corpus, chunking, embedding and the LanceDB store."""

from typing import Literal

from pydantic import Field, model_validator

from llmspec.core.secrets import SecretRef
from llmspec.spec.base import Flag, PositiveInt, SpecModel, invalid, section


class JsonlFields(SpecModel):
    text: str = Field("text", description="Field holding the document text.")
    id: str | None = Field(None, description="Field holding a stable document id.")
    metadata: list[str] = Field(default_factory=list, description="Fields kept as metadata.")


class Corpus(SpecModel):
    paths: list[str] = Field(
        min_length=1,
        description="Glob patterns, relative to the spec.",
        examples=[["data/help-center/**/*.md"]],
    )
    exclude: list[str] = Field(default_factory=list, description="Glob patterns to leave out.")
    format: Literal["markdown", "text", "jsonl", "pdf"] = Field(
        "markdown",
        description="How files are read: markdown (front matter becomes metadata), "
        "text, jsonl (see `fields`) or pdf.",
    )
    fields: JsonlFields | None = Field(None, description="Field mapping for jsonl corpora.")


class Chunking(SpecModel):
    strategy: Literal["recursive", "fixed"] = Field(
        "recursive",
        description="`recursive` splits on headings, paragraphs, then sentences; "
        "`fixed` cuts windows of `size`.",
    )
    size: int = Field(256, ge=16, le=32768, description="Chunk size, in `unit`s.")
    overlap: int = Field(32, ge=0, description="Overlap between neighbouring chunks, in `unit`s.")
    unit: Literal["tokens", "chars"] = Field(
        "tokens", description="Tokens of the embedding model's tokenizer, or characters."
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> "Chunking":
        if self.overlap >= self.size:
            raise invalid(
                f"overlap ({self.overlap}) must be smaller than size ({self.size})", "overlap"
            )
        return self


class Embedding(SpecModel):
    model: str = Field(
        "sentence-transformers/all-MiniLM-L6-v2",
        description="Embedding model: a hub id (the MiniLM default ships in a "
        "package and needs no download) or a local folder.",
    )
    revision: str | None = Field(None, description="Model revision; part of the index digest.")
    batch_size: PositiveInt = Field(64, description="Texts embedded per batch.")
    normalize: Flag = Field(True, description="L2-normalise vectors (needed for cosine).")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where to embed.")
    query_prompt: str | None = Field(
        None,
        description="Text put before each question when it is embedded (e5's `query: `, BGE's "
        "instruction); unset: the model's own `query` prompt, when its sentence-transformers "
        "config names one. Part of the index digest.",
        examples=["query: "],
    )
    document_prompt: str | None = Field(
        None,
        description="Text put before each chunk when it is embedded (e5's `passage: `); unset: "
        "the model's own `document` prompt, if any. Part of the index digest.",
        examples=["passage: "],
    )


class AnnIndex(SpecModel):
    type: Literal["auto", "none", "ivf_pq", "ivf_hnsw_sq", "ivf_hnsw_pq"] = Field(
        "auto", description="ANN index; `auto` builds IVF-PQ once the table passes `min_rows`."
    )
    metric: Literal["cosine", "l2", "dot"] = Field("cosine", description="Distance metric.")
    min_rows: PositiveInt = Field(10000, description="Below this, search is exact.")
    num_partitions: PositiveInt | None = Field(
        None, description="IVF partitions; derived from the row count when unset."
    )
    num_sub_vectors: PositiveInt | None = Field(
        None, description="PQ sub-vectors; derived from the vector size when unset."
    )
    nprobes: PositiveInt = Field(
        20, description="IVF partitions searched per query (recall against latency)."
    )
    refine_factor: PositiveInt | None = Field(
        10, description="Re-rank `top_k × refine_factor` candidates by exact distance."
    )


class Store(SpecModel):
    uri: str = Field(
        ".llmspec/lancedb",
        description="LanceDB location: a folder, or `s3://`, `gs://`, `az://` URIs.",
        examples=["s3://acme-llm/prod/lancedb"],
    )
    table: str = Field(
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
        description="Table name.",
        examples=["help_center"],
    )
    index: AnnIndex = section("Vector index.")
    full_text: Flag = Field(
        False,
        description="Build a full-text (BM25) index and search "
        "hybrid (vector + BM25) with reranking.",
    )
    storage_options: dict[str, str | SecretRef] = Field(
        default_factory=dict,
        description="Options passed to LanceDB's object store; credentials as secret references.",
    )


class RayPool(SpecModel):
    """Ray Data's actor pool, on a cluster this process joins as a driver."""

    address: str | None = Field(
        None,
        description="The cluster, as `ray.init` takes it: `ray://head:10001` (Ray Client, from "
        "outside the cluster) or `head:6379` (on one of its nodes); default `RAY_ADDRESS`.",
        examples=["ray://ray-head.ml.svc:10001"],
    )
    workers: PositiveInt = Field(2, description="Actors in the pool (each loads the model once).")
    cpus_per_worker: float = Field(1.0, gt=0, description="CPUs each actor reserves.")
    gpus_per_worker: float = Field(0.0, ge=0, description="GPUs each actor reserves.")
    batch_size: PositiveInt = Field(
        16, description="Items per batch an actor gets: chunks to embed, or records to answer."
    )


class IndexCompute(SpecModel):
    backend: Literal["local", "ray"] = Field(
        "local",
        description="`local`: in this process; `ray`: chunk and embed with Ray Data's "
        "`map_batches` over an actor pool (the same table, row for row). Not part of the digest.",
    )
    ray: RayPool = section("The cluster and the actor pool (`backend: ray`).")


class Retrieval(SpecModel):
    corpus: Corpus = Field(description="The documents to index.")
    chunking: Chunking = section("How documents are split.")
    embedding: Embedding = section("The embedding model.")
    store: Store = Field(description="Where the index lives.")
    compute: IndexCompute = section("Where the index is built.")
    top_k: int = Field(4, ge=1, le=100, description="Chunks retrieved per question.")
    reranker: Literal["rrf", "linear", "cross-encoder", "none"] = Field(
        "rrf", description="How hybrid results are merged (LanceDB rerankers)."
    )
