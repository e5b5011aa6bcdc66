"""`llmspec serve`: the app server on the environment's registry alias, locally.

It serves `models:/<name>@<alias>` in the current environment (no conda or virtualenv) with
MLflow's scoring app plus the OpenAI-compatible routes and /metrics (`runtime/server.py`),
under uvicorn, waits until `/ping` answers, and says where to send requests. With
`serving.runtime: vllm` it first starts vLLM's OpenAI server on the version's weights
(`operate/vllm.py`), and the app server calls it; both are health-checked and stop together.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.workspace import Workspace
from llmspec.kinds.promote.promoted import Promoted, promoted_model
from llmspec.operate.processes import port_free_or_raise, stop_process, wait_healthy
from llmspec.operate.vllm import ModelServer


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen[bytes]
    url: str
    model_uri: str
    log: Path | None = None  # what the server prints
    model_server: ModelServer | None = None  # vLLM, for `serving.runtime: vllm`

    def stop(self) -> None:
        """SIGTERM to each server's process group, SIGKILL after 15 s: the app server first,
        then the model server it calls."""
        stop(self)

    def wait(self) -> int:
        """Until one of the servers exits; its exit status."""
        while True:
            for process in self.processes:
                code = process.poll()
                if code is not None:
                    return code
            time.sleep(0.5)

    @property
    def processes(self) -> list[subprocess.Popen[bytes]]:
        return [self.process] + ([self.model_server.process] if self.model_server else [])


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
    if spec.serving.runtime == "vllm":
        from llmspec.operate.vllm import vllm_python

        vllm_python(ws)  # a missing runtime is said before anything else is looked up
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
        "LLMSPEC_MODEL_ALIAS": model.alias,  # whose rollouts it follows, whatever it loads from
        "LLMSPEC_MODEL_VERSION": f"{model.registered_name}/{model.version}",
        **_tracing_env(ws, model),
    }
    for name in ("LLMSPEC_SERVER_API_KEY", "LLMSPEC_LLM_URL", "LLMSPEC_LLM_MODEL"):
        env.pop(name, None)  # only what this serve decides
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
    port_free_or_raise(host, port, "the app server")
    model_server = None
    if spec.serving.runtime == "vllm":
        from llmspec.operate.vllm import served_folder, start_vllm

        folder = served_folder(ws, model)
        model_server = start_vllm(ws, model, folder, timeout)
        env["LLMSPEC_MODEL_URI"] = str(folder)  # what vLLM serves; downloaded once
        env["LLMSPEC_LLM_URL"] = model_server.url
        env["LLMSPEC_LLM_MODEL"] = model_server.model
    argv = [
        sys.executable, "-m", "uvicorn", "--factory", "llmspec.runtime.server:create_app",
        "--host", host, "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    log = ws.layout.serve_log
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(log, "wb") as out:
            # its own process group: MLflow starts uvicorn as a child, and both stop together
            process = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        url = f"http://{host}:{port}"
        server = Server(process, url, model_uri, log, model_server)
    except BaseException:
        if model_server is not None:
            stop_process(model_server.process)
        raise
    try:
        wait_healthy(process, f"{url}/ping", timeout, log, f"the app server for `{model_uri}`")
    except BaseException:  # interrupted or failed while it starts: no server left behind
        stop(server)
        raise
    return server


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
        # written in the background, off the answer's path (a rating flushes them first; a
        # server stopped by SIGTERM writes what is queued as it exits)
        "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING": os.environ.get(
            "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "true"
        ),
        # one writer for a local store: SQLite takes one at a time, and writers waiting on its
        # lock burn the CPU the model needs (bench/bench_serving.py)
        "MLFLOW_ASYNC_TRACE_LOGGING_MAX_WORKERS": os.environ.get(
            "MLFLOW_ASYNC_TRACE_LOGGING_MAX_WORKERS",
            "1" if model.tracking_uri.startswith(("sqlite:", "file:", "/")) else "10",
        ),
    }


def stop(server: Server) -> None:
    stop_process(server.process)
    if server.model_server is not None:
        stop_process(server.model_server.process)
