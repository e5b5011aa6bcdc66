"""A real Ray cluster for the tests: `ray start --head` and a second node joined with
`ray start --address=…`, one CPU each (two raylets on this machine), each with a temporary folder
of its own, as two machines would have. Started once for this package, stopped after its last
test, so that its idle processes take no CPU from the tests after it.

Without Ray the tests are skipped, or fail where CI installed it (`LLMSPEC_REQUIRE_RAY=1`)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    gcs: str  # host:port, for drivers (`ray.init`)
    dashboard: str  # http://host:port, for job submission
    env: dict[str, str]  # what a subprocess needs to find the cluster and this Python

    def jobs(self) -> list[dict[str, object]]:
        """`ray job list`, as the CLI gives it."""
        from ray.job_submission import JobSubmissionClient

        return [
            {"submission_id": job.submission_id, "status": str(job.status)}
            for job in JobSubmissionClient(self.dashboard).list_jobs()
        ]


def _ray(*argv: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(BIN / "ray"), *argv], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="package")
def ray_cluster(s3: Any) -> Iterator[Cluster]:
    """The cluster's processes have the test bucket's credentials and endpoint, as a cluster
    in a cloud has its own (apply passes it no credentials)."""
    if shutil.which("ray", path=str(BIN)) is None:
        reason = "Ray is not installed (pip install -e '.[ray]')"
        if os.environ.get("LLMSPEC_REQUIRE_RAY") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    # unix socket paths are short: a short folder of our own, not pytest's deep tmp_path
    root = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RAY_", "LLMSPEC_"))}
    env.update(PATH=f"{BIN}:{env.get('PATH', '')}", RAY_USAGE_STATS_ENABLED="0")
    env.update(s3.env)
    port, dashboard = _free_port(), _free_port()
    common = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--object-store-memory=150000000"]
    try:
        _ray(
            "start",
            "--head",
            f"--port={port}",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard}",
            "--disable-usage-stats",
            f"--temp-dir={root}/head",
            *common,
            env=env,
        )
        _ray("start", f"--address=127.0.0.1:{port}", f"--temp-dir={root}/node", *common, env=env)
        _wait_for_nodes(f"127.0.0.1:{port}", 2, env)
        yield Cluster(
            f"127.0.0.1:{port}",
            f"http://127.0.0.1:{dashboard}",
            {**env, "RAY_ADDRESS": f"http://127.0.0.1:{dashboard}"},
        )
    finally:
        subprocess.run([str(BIN / "ray"), "stop", "--force"], env=env, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_nodes(address: str, count: int, env: dict[str, str]) -> None:
    probe = (
        f"import json, ray; ray.init(address={address!r}, logging_level='ERROR'); "
        "print(json.dumps(sum(n['Alive'] for n in ray.nodes())))"
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode == 0 and json.loads(done.stdout.strip().splitlines()[-1]) >= count:
            return
        time.sleep(1)
    raise AssertionError(f"the Ray cluster at {address} did not reach {count} nodes")


def train_workers() -> list[int]:
    """Pids of the cluster's Ray Train workers (their process title names the actor)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if argv.startswith("ray::RayTrainWorker"):
                found.append(int(entry.name))
    return sorted(found)
