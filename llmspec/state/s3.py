"""State in object storage (``state.backend: s3``, ``state.url: s3://bucket/prefix``), locked the
way Terraform's S3 backend locks with ``use_lockfile``: by conditional writes, no database.

``<prefix>/<app>/<env>/state.json``
    replaced whole by each write (a PUT is atomic: readers see the old object or the new one),
    and only if it is still the object this write read (``If-Match`` on its ETag; ``If-None-Match:
    *`` for the first): a writer whose lock was broken under it fails rather than overwrites.
``<prefix>/<app>/<env>/lock.json``
    the apply lock. Acquiring is ``PUT If-None-Match: *``: of two runners, the store lets exactly
    one create it. Releasing deletes it only if it is still ours (``If-Match``). Like the SQL
    backend's row, it outlives a killed process; `llmspec state unlock` breaks it (journalled).
``<prefix>/<app>/<env>/journal/<time>-<id>.json``
    one object per entry: object storage has no append, and entries are never rewritten.

boto3 finds the endpoint and credentials in the standard variables (``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``…); an unreachable store is :class:`StateUnavailable` (LS607).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from llmspec.state.backend import LockHeld, StateUnavailable
from llmspec.state.model import AppState, JournalEntry, LockInfo, ResourceState, now

POLL_SECONDS = 0.25


class StateConflict(StateUnavailable):
    """state.json changed since this write read it: another writer, whose lock was broken."""


class S3State:
    """A :class:`~llmspec.state.backend.StateBackend` at ``s3://bucket/prefix``."""

    def __init__(self, url: str) -> None:
        if not url.startswith("s3://"):
            raise StateUnavailable(f"an s3 state URL starts with s3://, not {url!r}")
        self.url = url.rstrip("/")
        self.bucket, _, self.prefix = self.url.removeprefix("s3://").partition("/")
        if not self.bucket:
            raise StateUnavailable(f"no bucket in the state URL {url!r}")
        self._client: Any = None

    def __repr__(self) -> str:
        return f"S3State({self.url!r})"

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3  # type: ignore[import-untyped]
            except ImportError:
                raise StateUnavailable(
                    "state on s3:// needs boto3: pip install 'llmspec[s3]'"
                ) from None
            self._client = boto3.client("s3")
        return self._client

    def _key(self, app: str, env: str, name: str) -> str:
        return "/".join(p for p in (self.prefix, app, env, name) if p)

    # -- objects -----------------------------------------------------------------------------
    def _get(self, key: str) -> tuple[dict[str, Any], str] | None:
        """(JSON, ETag) of an object, None when there is none."""
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None
            raise self._unavailable(exc) from None
        return json.loads(found["Body"].read()), str(found["ETag"])

    def _put(self, key: str, data: dict[str, Any], **condition: str) -> bool:
        """PUT ``data``; False when its condition (IfMatch / IfNoneMatch) does not hold."""
        body = json.dumps(data, sort_keys=True).encode()
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", **condition
            )
        except Exception as exc:
            if _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict", "412"):
                return False
            raise self._unavailable(exc) from None
        return True

    def _unavailable(self, exc: Exception) -> StateUnavailable:
        return StateUnavailable(
            f"the state at {self.url} cannot be used: {type(exc).__name__}: {exc}"
        )

    # -- state -------------------------------------------------------------------------------
    def read(self, app: str, env: str) -> AppState:
        found = self._get(self._key(app, env, "state.json"))
        return AppState(app, env) if found is None else AppState.from_json(found[0])

    def _update(self, app: str, env: str, change: Any) -> AppState:
        key = self._key(app, env, "state.json")
        found = self._get(key)
        current = AppState(app, env) if found is None else AppState.from_json(found[0])
        new = AppState(app, env, current.serial + 1, change(dict(current.resources)))
        condition = {"IfNoneMatch": "*"} if found is None else {"IfMatch": found[1]}
        if not self._put(key, new.to_json(), **condition):
            raise StateConflict(
                f"the state of {app} in {env} at {self.url} changed under this apply "
                "(its lock was broken and another apply wrote): nothing was overwritten"
            )
        return new

    def put_resource(self, app: str, env: str, resource: ResourceState) -> AppState:
        return self._update(app, env, lambda r: {**r, resource.address: resource})

    def remove_resource(self, app: str, env: str, address: str) -> AppState:
        return self._update(app, env, lambda r: {a: s for a, s in r.items() if a != address})

    # -- journal -----------------------------------------------------------------------------
    def append_journal(self, entry: JournalEntry) -> None:
        stamp = now().replace(":", "").replace("-", "")
        name = f"journal/{stamp}-{time.monotonic_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        self._put(self._key(entry.app, entry.env, name), entry.to_json(), IfNoneMatch="*")

    def journal(self, app: str, env: str) -> list[JournalEntry]:
        keys = sorted(self._list(self._key(app, env, "journal/")))
        entries = []
        for key in keys:
            found = self._get(key)
            if found is not None:
                entries.append(JournalEntry.from_json(found[0]))
        return entries

    def _list(self, prefix: str) -> Iterator[str]:
        try:
            pages = self.client.get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield str(item["Key"])
        except Exception as exc:
            raise self._unavailable(exc) from None

    # -- lock --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, info: LockInfo, timeout: float = 0.0) -> Iterator[None]:
        key = self._key(info.app, info.env, "lock.json")
        token = str(uuid.uuid4())
        deadline = time.monotonic() + max(timeout, 0.0)
        while not self._put(key, {**info.to_json(), "token": token}, IfNoneMatch="*"):
            if time.monotonic() >= deadline:
                holder = self.lock_holder(info.app, info.env)
                if holder is not None:
                    raise LockHeld(holder)
                continue  # released between our PUT and the read: try once more
            time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            found = self._get(key)
            if found is not None and found[0].get("token") == token:
                # only our own lock: if an operator broke it, the object is someone else's
                with contextlib.suppress(Exception):
                    self.client.delete_object(Bucket=self.bucket, Key=key, IfMatch=found[1])

    def lock_holder(self, app: str, env: str) -> LockInfo | None:
        found = self._get(self._key(app, env, "lock.json"))
        return None if found is None else LockInfo.from_json(found[0])

    def unlock(self, app: str, env: str) -> LockInfo | None:
        key = self._key(app, env, "lock.json")
        found = self._get(key)
        if found is None:
            return None
        holder = LockInfo.from_json(found[0])
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key, IfMatch=found[1])
        except Exception as exc:
            if _code(exc) in ("PreconditionFailed", "412"):
                return self.unlock(app, env)  # replaced meanwhile: break the one there now
            raise self._unavailable(exc) from None
        self.append_journal(JournalEntry("unlock", app, env, detail={"holder": holder.to_json()}))
        return holder

    def list(self) -> Iterator[tuple[str, str, AppState]]:
        root = f"{self.prefix}/" if self.prefix else ""
        seen = set()
        for key in self._list(root):
            parts = key[len(root) :].split("/")
            if len(parts) >= 3 and (parts[0], parts[1]) not in seen:
                seen.add((parts[0], parts[1]))
        for app, env in sorted(seen):
            yield app, env, self.read(app, env)


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
