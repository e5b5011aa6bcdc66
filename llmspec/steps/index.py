"""`index.<table>`: the retrieval index. Declared here; built by the index executor."""

from __future__ import annotations

from collections.abc import Iterator

from llmspec.render import to_json
from llmspec.spec import Spec
from llmspec.steps.base import DeclareContext, Resource, ResourceDecl, Step


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
        config = {
            "corpus": retrieval.corpus.model_dump(mode="json"),
            "chunking": retrieval.chunking.model_dump(mode="json"),
            "embedding": retrieval.embedding.model_dump(mode="json"),
            "index": store.index.model_dump(mode="json"),
            "full_text": store.full_text,
        }
        files = ctx.expand(retrieval.corpus.paths, retrieval.corpus.exclude)
        settings = {"uri": store.uri, "table": store.table}
        yield ResourceDecl(
            self.kind,
            store.table,
            config,
            files,
            settings=settings,
            estimate=f"{len(files)} documents to chunk and embed",
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
