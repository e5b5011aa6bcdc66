"""`llmspec serve`: the model server on the environment's registry alias, locally.

It serves `models:/<name>@<alias>` in the current environment (no conda or virtualenv) with
MLflow's scoring app plus OpenAI-compatible routes (`runtime/server.py`), under uvicorn, waits
until `/ping` answers, and says where to send requests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.workspace import Workspace
from llmspec.kinds.promote.promoted import Promoted, promoted_model


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen[bytes]
    url: str
    model_uri: str
    log: Path | None = None  # what the server prints

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL after 15 s."""
        stop(self)


def start(
    ws: Workspace,
    host: str | None = None,
    port: int | None = None,
    *,
    api_key_env: str | None = None,
    timeout: float = 180,
) -> Server:
    """Start the server and return once it is healthy (or raise with its last output). With
    ``api_key_env``, requests need that variable's value as their bearer token."""
    spec = ws.resolved.spec
    model = promoted_model(ws)
    target = next((t for t in spec.serving.targets if t.kind == "mlflow"), None)
    host = host or (target.host if target is not None else "127.0.0.1")
    port = port or (target.port if target is not None else 5001)
    workers = target.workers if target is not None else 1
    model_uri = model.uri
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": model.tracking_uri,
        "LLMSPEC_MODEL_URI": model_uri,
        "LLMSPEC_SERVED_NAME": model.registered_name,
        **_tracing_env(ws, model),
    }
    env.pop("LLMSPEC_SERVER_API_KEY", None)
    if api_key_env:
        if not os.environ.get(api_key_env):
            raise SpecError(
                [
                    error(
                        "LS810",
                        f"`--api-key-env {api_key_env}`: {api_key_env} is not set",
                        hint=f"export {api_key_env}=<the key clients must send>",
                    )
                ]
            )
        env["LLMSPEC_SERVER_API_KEY"] = os.environ[api_key_env]  # by environment, not argv
    argv = [
        sys.executable, "-m", "uvicorn", "--factory", "llmspec.runtime.server:create_app",
        "--host", host, "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    log = ws.layout.serve_log
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        # its own process group: MLflow starts uvicorn as a child, and both stop together
        process = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://{host}:{port}"
    server = Server(process, url, model_uri, log)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if healthy(url):
                return server
            time.sleep(0.5)
    except BaseException:  # interrupted while it starts: no server left behind
        stop(server)
        raise
    stop(server)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-12:])
    raise SpecError(
        [
            error(
                "LS810",
                f"the model server for `{model_uri}` did not become healthy at {url}",
                hint=f"the end of {log}:\n{tail}",
            )
        ]
    )


def _tracing_env(ws: Workspace, model: Promoted) -> dict[str, str]:
    """Where the server's traces go (the app's experiment) and what they are tagged with."""
    if not ws.resolved.spec.serving.monitoring.log_traces:
        return {}
    from llmspec.integrations.mlflow import experiment_for, quiet_mlflow

    quiet_mlflow()
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=model.tracking_uri, registry_uri=model.tracking_uri)
    version = client.get_model_version_by_alias(model.registered_name, model.alias).version
    experiment = experiment_for(client, ws.resolved.spec, ws.app, ws.env, ws.repo_root)
    return {
        "LLMSPEC_TRACE": "1",
        "MLFLOW_EXPERIMENT_ID": experiment,
        "LLMSPEC_ENV": ws.env,
        "LLMSPEC_MODEL_VERSION": f"{model.registered_name}/{version}",
        # written before the response: the trace_id a client gets can be rated at once, and a
        # stopped server loses no queued trace
        "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING": os.environ.get(
            "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false"
        ),
    }


def stop(server: Server) -> None:
    import contextlib
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
