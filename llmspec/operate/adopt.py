"""`llmspec state import SPEC ADDRESS`: adopt what exists already (a registered model version, an
alias, a LanceDB table) as the record of a resource of the spec, as `terraform import` does.

Nothing is built or changed: the system is asked what is there, and the state records it with
the resource's current inputs digest, so the next plan takes it as built. The recorded outputs
are what a run of the step would have recorded, so serving, promotion and the refresh read them
as usual. A resource already recorded is refused: `state show` says what is there.
"""

from __future__ import annotations

from typing import Any

from llmspec.core.diagnostics import SpecError, did_you_mean, error
from llmspec.engine.apply import completed
from llmspec.engine.locking import holding
from llmspec.engine.workspace import Workspace
from llmspec.integrations.mlflow import client_for, tracking_uri
from llmspec.kinds.index.outputs import IndexOutputs
from llmspec.kinds.package.outputs import PackageOutputs
from llmspec.kinds.promote.outputs import PromoteOutputs
from llmspec.state.model import JournalEntry, ResourceState

__all__ = ["IMPORTABLE", "adopt"]

IMPORTABLE = ("package", "promote", "index")


def adopt(ws: Workspace, address: str, version: str | None = None) -> ResourceState:
    """Record ``address`` from what its system holds (``version``: which registered version,
    or table version; an alias is taken where it points)."""
    graph = ws.graph()
    resource = graph.resources.get(address)
    if resource is None:
        hint = did_you_mean(address, list(graph.resources)) or "`llmspec plan` lists them"
        raise SpecError([error("LS471", f"`{address}` is not a resource of this spec", hint=hint)])
    if resource.kind not in IMPORTABLE:
        raise SpecError(
            [
                error(
                    "LS860",
                    f"`{address}` cannot be imported: only {', '.join(IMPORTABLE)} resources "
                    "stand for something outside llmspec",
                    hint=f"`llmspec apply --target {address}` builds it",
                )
            ]
        )
    with holding(ws, "import", ws.resolved.spec.state.lock_timeout_s):
        if address in ws.backend.read(ws.app, ws.env).resources:
            raise SpecError(
                [
                    error(
                        "LS860",
                        f"`{address}` is already recorded in {ws.env}",
                        hint=f"`llmspec state show SPEC -e {ws.env} {address}` shows it",
                    )
                ]
            )
        outputs = _outputs(ws, resource.kind, dict(resource.settings), version)
        state = completed(resource, outputs, ws.env)
        ws.backend.put_resource(ws.app, ws.env, state)
        detail = {"address": address, "outputs": outputs}
        ws.backend.append_journal(JournalEntry("import", ws.app, ws.env, detail=detail))
    return state


def _outputs(ws: Workspace, kind: str, settings: dict[str, Any], version: str | None) -> Any:
    spec = ws.resolved.spec
    uri = tracking_uri(spec.tracking.uri or ws.layout.TRACKING_URI, ws.repo_root)
    try:
        if kind == "package":
            return _package(uri, str(settings["registered_name"]), version)
        if kind == "promote":
            return _promote(uri, str(settings["registered_name"]), str(settings["alias"]))
        return _index(ws, settings, version)
    except SpecError:
        raise
    except Exception as exc:  # no such version, alias or table; a server that did not answer
        raise SpecError(
            [
                error(
                    "LS860",
                    f"nothing to import: {type(exc).__name__}: {exc}",
                    hint="check the version or table exists where the spec points",
                )
            ]
        ) from None


def _package(uri: str, name: str, version: str | None) -> dict[str, Any]:
    if version is None:
        raise SpecError(
            [error("LS860", "importing a package needs --version", hint="the registered version")]
        )
    found = client_for(uri).get_model_version(name, version)
    return PackageOutputs(
        run_id=found.run_id or "",
        model_uri=found.source,
        registered_name=name,
        version=str(found.version),
        version_uri=f"models:/{name}/{found.version}",
        tracking_uri=uri,
    ).to_outputs()


def _promote(uri: str, name: str, alias: str) -> dict[str, Any]:
    found = client_for(uri).get_model_version_by_alias(name, alias)
    return PromoteOutputs(name, alias, str(found.version), None, uri).to_outputs()


def _index(ws: Workspace, settings: dict[str, Any], version: str | None) -> dict[str, Any]:
    from llmspec.kinds.index.build import storage_options, store_uri
    from llmspec.runtime.embedding import quiet_libraries

    quiet_libraries()
    import lancedb

    spec = ws.resolved.spec
    uri = store_uri(str(settings["uri"]), ws.repo_root)
    given = spec.retrieval.store.storage_options if spec.retrieval else {}
    table = lancedb.connect(uri, storage_options=storage_options(given, uri) or None).open_table(
        str(settings["table"])
    )
    if version is not None:
        table.checkout(int(version))
    adopted = IndexOutputs(uri, str(settings["table"]), int(table.version))
    return {**adopted.to_outputs(), "rows": table.count_rows()}
