"""The docker target's `build.sh` on the promoted example: MLflow's own Dockerfile generator
writes the build context for the alias's version, offline, the app server becomes its entrypoint
and the target's environment is added (the image itself is not built here: its pip installs need
the network); the app server then serves the context's model as the image would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.example.support import free_port, llmspec, outputs, post

pytestmark = pytest.mark.slow
pytest.importorskip("mlflow")


def test_build_sh_writes_mlflows_dockerfile_for_the_promoted_version(
    applied: dict[str, Any], tmp_path: Path
) -> None:
    repo = applied["repo"]
    target = "serving.targets=[{kind: docker, image: acme/support-bot, env: {LOG_LEVEL: info}}]"
    out = tmp_path / "rendered"
    done = llmspec("render", "specs/support-bot.yaml", "-e", "dev", "--set", target,
                   "--out", str(out), cwd=repo)  # fmt: skip
    assert done.returncode == 0, done.stderr
    script = out / "deploy" / "docker" / "build.sh"
    context = tmp_path / "context"
    env = {
        **os.environ,
        "BUILD": "0",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": outputs(applied, "package.support-bot")["tracking_uri"],
    }
    built = subprocess.run(
        ["sh", str(script), str(context)], cwd=repo, capture_output=True, text=True, env=env
    )
    assert built.returncode == 0, built.stderr[-2000:]
    dockerfile = (context / "Dockerfile").read_text()
    assert dockerfile.startswith("# Build an image that can serve mlflow models.")  # MLflow's
    assert "COPY model_dir /opt/ml/model" in dockerfile and "_install_pyfunc_deps" in dockerfile
    assert 'ENV LOG_LEVEL="info"' in dockerfile and "EXPOSE 8080" in dockerfile
    model = context / "model_dir"
    requirements = (model / "requirements.txt").read_text()
    assert "torch==" in requirements and "transformers==" in requirements
    assert (model / "code" / "llmspec" / "runtime" / "pyfunc.py").is_file()
    promoted = outputs(applied, "promote.support-bot@dev")["version"]
    assert f"model_version: {promoted}" in (model / "registered_model_meta").read_text()
    assert (model / "artifacts" / "model" / "adapter_config.json").is_file()  # its own weights
    # the image runs the app server (as `llmspec serve` does) on the model copied into it
    assert (
        'ENTRYPOINT ["python", "-m", "uvicorn", "--factory", "llmspec.runtime.server:create_app"'
        in (dockerfile)
    )
    assert "ENV PYTHONPATH=/opt/ml/model/code LLMSPEC_MODEL_URI=/opt/ml/model" in dockerfile
    assert "prometheus-client==" in requirements and "openai==" in requirements
    port = free_port()
    server_env = {**env, "LLMSPEC_MODEL_URI": str(model), "LLMSPEC_SERVED_NAME": "support-bot"}
    argv = [sys.executable, "-m", "uvicorn", "--factory", "llmspec.runtime.server:create_app",
            "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(
        argv, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                urllib.request.urlopen(f"{url}/ping", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        reply = post(
            f"{url}/v1/chat/completions",
            {"messages": [{"role": "user", "content": "Hi"}]},
            key=None,
        )
        assert reply["choices"][0]["message"]["content"] is not None
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        # the version comes from the registered_model_meta MLflow left in the image's model
        assert f'model_version="support-bot/{promoted}"' in metrics
    finally:
        server.terminate()
        server.wait(timeout=30)
