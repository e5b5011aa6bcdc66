"""The docker target's `build.sh` on the promoted example: MLflow's own Dockerfile generator
writes the build context for the alias's version, offline, and the target's environment is
added (the image itself is not built here: its pip installs need the network)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.example.support import llmspec, outputs

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
