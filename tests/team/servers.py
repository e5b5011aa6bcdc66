"""The servers a team shares, started for real on loopback: an S3 API (moto's server) and an
MLflow tracking server with a SQL backend and its artifacts proxied to that S3."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@contextmanager
def started(command: list[str], url: str, log: Path, env: dict[str, str]) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        wait_for(url, process, log)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class S3:
    endpoint: str
    bucket: str

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, **_boto_credentials())

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in pages.paginate(Bucket=self.bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]

    @property
    def env(self) -> dict[str, str]:
        """The standard variables that point every S3 client here."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": CREDENTIALS["AWS_REGION"],
    }


@contextmanager
def s3_server(folder: Path, bucket: str = "team") -> Iterator[S3]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with started(command, endpoint, folder / "moto.log", dict(os.environ)):
        s3 = S3(endpoint, bucket)
        s3.client().create_bucket(Bucket=bucket)
        yield s3


@dataclass(frozen=True)
class Tracking:
    uri: str
    artifacts: str  # where the server keeps artifacts (s3://…)


@contextmanager
def mlflow_server(folder: Path, s3: S3) -> Iterator[Tracking]:
    """``mlflow server``: runs and registry in SQLite, artifacts proxied to ``s3``: clients
    upload and download through the server and need no S3 credentials of their own."""
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    artifacts = f"s3://{s3.bucket}/mlflow"
    env = {**os.environ, **s3.env, "MLFLOW_S3_ENDPOINT_URL": s3.endpoint}
    command = [
        str(BIN / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        artifacts,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with started(command, f"{uri}/health", folder / "mlflow.log", env):
        yield Tracking(uri, artifacts)
