"""Running the CLI in the example's repository copy, reading what apply recorded, and serving."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

KEY = "key-for-the-serving-tests"


def llmspec(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmspec", *args], cwd=cwd, capture_output=True, text=True,
        env={**os.environ, **env} if env else None,
    )  # fmt: skip


def outputs(applied: dict[str, Any], address: str) -> dict[str, Any]:
    return dict(applied["state"]["resources"][address]["outputs"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(repo: Path, spec: str, port: int, *extra: str, env: dict[str, str]) -> Any:
    process = subprocess.Popen(
        [sys.executable, "-m", "llmspec", "serve", spec, "-e", "dev", "--port", str(port), *extra],
        cwd=repo, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()  # printed once /ping answers
    assert f"at http://127.0.0.1:{port}" in line, line
    return process


def post(url: str, body: Any, key: str | None = KEY) -> Any:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())
