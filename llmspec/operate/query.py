"""`llmspec query`: search the retrieval index an apply built, at the version state records."""

from __future__ import annotations

from typing import Any

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.workspace import Workspace
from llmspec.kinds.index.outputs import IndexOutputs
from llmspec.plans.address import Address


def query(
    ws: Workspace, question: str, top_k: int | None = None, where: str | None = None
) -> list[Any]:
    """The index's hits for ``question`` (runtime ``Hit``s, best first); LS471 when the spec
    has no index or apply has not built it, LS602 when LanceDB rejects the search."""
    retrieval = ws.resolved.spec.retrieval
    if retrieval is None:
        raise SpecError([error("LS471", "this spec has no `retrieval` section")])
    address = str(Address.index(retrieval.store.table))
    built = ws.backend.read(ws.app, ws.env).resources.get(address)
    index = IndexOutputs.from_state_or_none(built)
    if built is None or built.status != "complete" or index is None:
        raise SpecError(
            [
                error(
                    "LS471",
                    f"`{address}` has not been built in `{ws.env}`",
                    hint=f"run `llmspec apply {ws.resolved.path} -e {ws.env} --target {address}`",
                )
            ]
        )
    from llmspec.kinds.index.build import storage_options
    from llmspec.kinds.package.settings import retrieval_config
    from llmspec.runtime.retrieval import Retriever

    config = retrieval_config(ws.resolved.spec)
    assert config is not None  # the spec has a retrieval section
    try:
        retriever = Retriever.from_config(
            config,
            index.uri,
            index.version,
            base=ws.resolved.path.resolve().parent,
            storage_options=storage_options(retrieval.store.storage_options) or None,
        )
        hits: list[Any] = retriever.search(question, top_k, where)
    except Exception as exc:  # LanceDB reports a bad filter or a missing table like this
        raise SpecError(
            [
                error(
                    "LS602",
                    f"the search failed: {str(exc).splitlines()[0]}",
                    hint="filters are SQL on the columns source, heading, text, "
                    "doc_id, line_start, line_end and metadata (a JSON "
                    'string: use metadata LIKE \'%"topic": "x"%\')',
                )
            ]
        ) from None
    return hits
