"""`index.<table>`: the retrieval index. Declared here; built by the index executor."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from llmspec.engine.render import to_json
from llmspec.engine.step import (
    DeclareContext,
    Drift,
    Resource,
    ResourceDecl,
    RunContext,
    Step,
)
from llmspec.kinds.index.outputs import IndexOutputs
from llmspec.runtime.embedding import resolve_model
from llmspec.spec import Spec
from llmspec.state.model import ResourceState


class IndexStep(Step):
    kind = "index"
    reusable = True
    # a new chunking or embedding model re-embeds everything into a new table version
    replace_on = ("chunking", "embedding")

    def declare(self, ctx: DeclareContext) -> Iterator[ResourceDecl]:
        retrieval = ctx.spec.retrieval
        if retrieval is None:
            return
        store = retrieval.store
        embedding = retrieval.embedding
        model = resolve_model(embedding.model, embedding.revision, ctx.spec_dir)
        config = {
            "corpus": retrieval.corpus.model_dump(mode="json"),
            "chunking": retrieval.chunking.model_dump(mode="json"),
            # the model's identity (package version, revision), not where it is installed
            "embedding": {
                **embedding.model_dump(mode="json", exclude=_NOT_DIGESTED | _unset(embedding)),
                "identity": model.identity,
            },
            "index": store.index.model_dump(mode="json"),
            "full_text": store.full_text,
        }
        corpus = ctx.expand(retrieval.corpus.paths, retrieval.corpus.exclude)
        files = corpus
        if model.identity.startswith("local:"):  # a model folder of the repository: its files
            files += ctx.expand([f"{embedding.model}/**/*"])
        settings = {
            "uri": store.uri,
            "table": store.table,
            "corpus": list(corpus),
            "compute": retrieval.compute.model_dump(mode="json"),
        }
        yield ResourceDecl(
            self.kind,
            store.table,
            config,
            files,
            settings=settings,
            estimate=f"{len(corpus)} documents to chunk and embed",
        )

    def render(self, resource: Resource, spec: Spec) -> dict[str, str]:
        job = {
            "resource": resource.address,
            "inputs_digest": resource.inputs_digest,
            **resource.config,
            "files": list(resource.files),
            "store": dict(resource.settings),
        }
        return {f"index/{resource.name}.json": to_json(job) + "\n"}

    def run(self, resource: Resource, ctx: RunContext) -> dict[str, Any]:
        import importlib.util

        missing = [
            m for m in ("lancedb", "torch", "transformers") if importlib.util.find_spec(m) is None
        ]
        if missing:
            from llmspec.core.diagnostics import error
            from llmspec.engine.step import StepFailed

            raise StepFailed(
                [
                    error(
                        "LS601",
                        "building the index needs "
                        + ", ".join(missing)
                        + ", which are not installed",
                        hint="pip install 'llmspec[index]'",
                    )
                ]
            )
        from llmspec.kinds.index.build import build_index

        return build_index(resource, ctx)

    def reuse(
        self, resource: Resource, built: Mapping[str, Any], ctx: RunContext
    ) -> dict[str, Any]:
        """Same store: point at the built version. Another store (prod's bucket): copy that
        version's rows there, vectors included, without embedding again."""
        from llmspec.kinds.index.build import copy_table, store_uri

        target = store_uri(str(resource.settings["uri"]), ctx.repo_root)
        table = str(resource.settings["table"])
        source = IndexOutputs.from_outputs(built, resource.address)
        if (target, table) == (source.uri, source.table):
            return dict(built)
        return copy_table(source, target, table, ctx)

    def refresh(self, resource: ResourceState, ctx: RunContext) -> list[Drift]:
        from llmspec.kinds.drift import table_drift

        return table_drift(resource, ctx)

    def destroy(self, resource: ResourceState, ctx: RunContext) -> bool:
        from llmspec.kinds.index.build import REMOTE, _table_names

        built = IndexOutputs.from_state_or_none(resource)
        if built is None or not built.uri or built.uri.startswith(REMOTE):
            return False  # tables on object storage are left for their owners to remove
        shared = resource.env_built not in ("", ctx.env) and built.copied_from is None
        if shared:
            return False  # another environment's table, taken by pointer: not ours to drop
        import lancedb

        db = lancedb.connect(built.uri)
        if built.table in _table_names(db):
            db.drop_table(built.table)
        return True


_NOT_DIGESTED = {"device", "batch_size"}  # where and how fast, not what is embedded


def _unset(embedding: Any) -> set[str]:
    """Prompts left unset are not in the digest: indexes built before they existed keep theirs."""
    return {k for k in ("query_prompt", "document_prompt") if getattr(embedding, k) is None}
