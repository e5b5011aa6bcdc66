"""Object storage as the standard variables describe it, for LanceDB (whose object store reads
credentials from the environment but wants an S3-compatible endpoint named in its options).

``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (the AWS SDKs' and CLI's names) point every
``s3://`` table at an S3-compatible server such as MinIO or moto, plain HTTP allowed when the
endpoint says ``http://``; ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` name the region. What the spec
gives in ``retrieval.store.storage_options`` wins. ``gs://`` and ``az://`` tables take their
options from the spec and their libraries' own variables, untouched here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

__all__ = ["arrow_filesystem", "lance_options"]


def lance_options(
    uri: str, given: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The ``storage_options`` of ``lancedb.connect(uri, …)``."""
    options: dict[str, str] = {}
    if uri.startswith(("s3://", "s3a://")):
        env = os.environ if environ is None else environ
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
        if endpoint:
            options["endpoint"] = endpoint
            if endpoint.startswith("http://"):
                options["allow_http"] = "true"
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if region:
            options["region"] = region
    return {**options, **(given or {})}


def arrow_filesystem(storage: str) -> tuple[Any, str]:
    """A pyarrow filesystem for an `s3://` storage (the endpoint from AWS_ENDPOINT_URL[_S3], as
    boto3 reads it, so that S3-compatible stores work), or None for a cluster-wide folder."""
    if not storage.startswith("s3://"):
        return None, storage
    from pyarrow import fs

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    options: dict[str, Any] = {"region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        options.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
    return fs.S3FileSystem(**options), storage.removeprefix("s3://")
