"""What plan's refresh asks the systems that hold apply's outputs (one or two calls each): has
the registry alias moved, the registered version gone, the LanceDB table or its version gone?

Each finding is a :class:`~llmspec.engine.step.Drift` with its own sentence; apply then runs the
step again (``update``: the alias is put back on the version the plan recorded) or rebuilds what
disappeared (``replace``).
"""

from __future__ import annotations

from llmspec.engine.step import Drift, RunContext
from llmspec.integrations.mlflow import client_for
from llmspec.kinds.index.outputs import IndexOutputs
from llmspec.kinds.package.outputs import PackageOutputs
from llmspec.kinds.promote.outputs import PromoteOutputs
from llmspec.state.model import ResourceState

__all__ = ["alias_drift", "table_drift", "version_drift"]


def _missing(exc: Exception) -> bool:
    """MLflow's "no such alias / version": RESOURCE_DOES_NOT_EXIST, or (an alias, in the SQL
    store and the server alike) INVALID_PARAMETER_VALUE saying "not found"."""
    code = getattr(exc, "error_code", "")
    return code == "RESOURCE_DOES_NOT_EXIST" or (
        code == "INVALID_PARAMETER_VALUE" and "not found" in str(exc)
    )


def alias_drift(resource: ResourceState) -> list[Drift]:
    """The alias should point where the promotion (or `llmspec rollback`) left it."""
    promoted = PromoteOutputs.from_state_or_none(resource)
    if promoted is None:
        return []
    expected = promoted.previous if promoted.rolled_back_at else promoted.version
    client = client_for(promoted.tracking_uri)
    name, alias = promoted.registered_name, promoted.alias
    try:
        current: str | None = str(client.get_model_version_by_alias(name, alias).version)
    except Exception as exc:
        if not _missing(exc):
            raise
        current = None
    if current == expected:
        return []
    if current is None:
        message = f"alias @{alias} of `{name}` is gone; state says version {expected}"
    else:
        message = f"alias @{alias} points at version {current}; state says {expected}"
    return [Drift(f"@{alias}", message + " (apply moves it back)")]


def version_drift(resource: ResourceState) -> list[Drift]:
    """The registered version the package made must still exist."""
    packaged = PackageOutputs.from_state_or_none(resource)
    if packaged is None:
        return []
    client = client_for(packaged.tracking_uri)
    try:
        client.get_model_version(packaged.registered_name, packaged.version)
    except Exception as exc:
        if not _missing(exc):
            raise
        message = (
            f"version {packaged.version} of `{packaged.registered_name}` is gone from the "
            "registry (apply registers the model again)"
        )
        return [Drift(f"{packaged.registered_name} v{packaged.version}", message, "replace")]
    return []


def table_drift(resource: ResourceState, ctx: RunContext) -> list[Drift]:
    """The table, and the version the index recorded, must still be in the store."""
    built = IndexOutputs.from_state_or_none(resource)
    if built is None or not built.uri:
        return []
    from llmspec.kinds.index.build import _table_names, storage_options
    from llmspec.runtime.embedding import quiet_libraries

    quiet_libraries()
    import lancedb

    given = ctx.spec.retrieval.store.storage_options if ctx.spec.retrieval else {}
    db = lancedb.connect(built.uri, storage_options=storage_options(given, built.uri) or None)
    if built.table not in _table_names(db):
        message = f"table `{built.table}` is gone from {built.uri} (apply builds it again)"
        return [Drift(f"table {built.table}", message, "replace")]
    versions = {v["version"] if isinstance(v, dict) else v.version for v in db.open_table(
        built.table).list_versions()}  # fmt: skip
    if built.version not in versions:
        message = (
            f"version {built.version} of table `{built.table}` is gone (cleaned up outside "
            "llmspec; apply builds it again)"
        )
        return [Drift(f"table {built.table} v{built.version}", message, "replace")]
    return []
