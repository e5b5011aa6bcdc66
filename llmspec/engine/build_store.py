"""The content-addressed artifact store an app's environments share.

``<root>/<app>/<kind>/<digest>/`` holds what a resource with that inputs digest produced, and
``record.json`` says who built it, where and what it output. When prod plans a resource whose
digest staging already built, the plan says `reuse` and apply takes the recorded outputs instead
of rebuilding: promotion of code and of models become one operation.

``state.artifacts: s3://bucket/prefix`` keeps the records in object storage, where every CI runner
of the team finds what another built (boto3, pointed at an S3-compatible server by the standard
``AWS_ENDPOINT_URL`` and credentials); a step's work folder stays on the machine that runs it,
under the repository's ``.llmspec/artifacts``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmspec.state.local import atomic_write
from llmspec.state.model import now


@dataclass(frozen=True)
class BuildRecord:
    address: str
    env: str
    inputs_digest: str
    outputs: dict[str, Any]
    built_at: str


class ArtifactStore:
    """Records in ``root`` (a folder), or at ``remote`` (``s3://bucket/prefix``) with work
    folders still under ``root``."""

    def __init__(self, root: Path, remote: str | None = None) -> None:
        self.root = root
        self.remote = remote.rstrip("/") if remote else None
        self._client: Any = None  # one boto3 client: a plan asks once per reusable resource

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client()
        return self._client

    def __repr__(self) -> str:
        return self.remote or str(self.root)

    def folder(self, app: str, kind: str, digest: str) -> Path:
        return self.root / app / kind / digest.split(":")[-1]

    def find(self, app: str, kind: str, digest: str) -> BuildRecord | None:
        if self.remote is not None:
            text = self._get(self._key(app, kind, digest))
            return None if text is None else BuildRecord(**json.loads(text))
        path = self.folder(app, kind, digest) / "record.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return BuildRecord(**data)

    def record(
        self, app: str, kind: str, address: str, env: str, digest: str, outputs: dict[str, Any]
    ) -> BuildRecord:
        record = BuildRecord(address, env, digest, outputs, now())
        text = json.dumps(record.__dict__, sort_keys=True, indent=2)
        if self.remote is not None:
            self._put(self._key(app, kind, digest), text)  # a PUT replaces whole: no torn file
            return record
        folder = self.folder(app, kind, digest)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / "record.json", text)
        return record

    def _key(self, app: str, kind: str, digest: str) -> tuple[str, str]:
        assert self.remote is not None
        bucket, _, prefix = self.remote.removeprefix("s3://").partition("/")
        key = "/".join(p for p in (prefix, app, kind, digest.split(":")[-1], "record.json") if p)
        return bucket, key

    def _get(self, where: tuple[str, str]) -> str | None:
        client = self.client
        try:
            body = client.get_object(Bucket=where[0], Key=where[1])["Body"].read()
        except client.exceptions.NoSuchKey:
            return None
        except Exception as exc:  # botocore's: no connection, no bucket, denied
            raise self._unavailable(exc) from None
        return str(body.decode("utf-8"))

    def _put(self, where: tuple[str, str], text: str) -> None:
        try:
            self.client.put_object(
                Bucket=where[0], Key=where[1], Body=text.encode(), ContentType="application/json"
            )
        except Exception as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: Exception) -> Exception:
        from llmspec.core.diagnostics import SpecError, error

        return SpecError(
            [
                error(
                    "LS624",
                    f"the build store {self.remote} cannot be used: {type(exc).__name__}: {exc}",
                    hint="check the bucket, AWS_ENDPOINT_URL and the credentials "
                    "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the instance's role)",
                )
            ]
        )


def s3_client() -> Any:
    """boto3's S3 client, configured by the standard variables (``AWS_ENDPOINT_URL``,
    credentials, region); the command that installs it when it is missing."""
    try:
        import boto3  # type: ignore[import-untyped]
    except ImportError:
        from llmspec.core.diagnostics import SpecError, error

        raise SpecError(
            [
                error(
                    "LS624",
                    "an s3:// build store needs boto3, which is not installed",
                    hint="pip install 'llmspec[s3]'",
                )
            ]
        ) from None
    return boto3.client("s3")
