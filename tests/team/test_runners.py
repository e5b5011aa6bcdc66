"""CI runners that start empty and are thrown away: each one a fresh clone of the repository,
sharing nothing but the team's servers (MLflow, S3, PostgreSQL state)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from llmspec.integrations.mlflow import client_for
from tests.conftest import ROOT
from tests.team.servers import S3, Tracking

pytestmark = pytest.mark.slow

TEAM = """
state:
  backend: sql
  url: ${secret:STATE_DB_URL}
  artifacts: s3://team/builds
"""

LOAD = """
import mlflow
model = mlflow.pyfunc.load_model("models:/demo@champion")
print(list(model.predict({"question": ["How do I reset my password?"]})))
"""


def git(*argv: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", *argv],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def make_origin(folder: Path, env: dict[str, str], prod: str = "", team: str = TEAM) -> Path:
    """The team's repository: the scaffolded demo app, a staging environment, and the shared
    state, build store and LanceDB bucket."""
    folder.mkdir()
    subprocess.run(
        [sys.executable, "-m", "llmspec", "init", "demo"],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
    )
    spec = folder / "specs" / "demo.yaml"
    text = spec.read_text(encoding="utf-8")
    # a store of the test's own: the tests' apps all name their table `demo`
    store = f"s3://team/lancedb/{folder.parent.name}"
    text = text.replace("    uri: .llmspec/lancedb\n", f"    uri: {store}\n")
    text = text.replace(
        "environments:\n",
        "environments:\n  staging:\n    serving: {registry: {alias: challenger}}\n",
    )
    assert "\n  prod:\n" in text
    text = text.replace("\n  prod:\n", "\n  prod:\n" + prod)
    spec.write_text(text + team, encoding="utf-8")
    git("init", "-q", cwd=folder)
    git("add", "-A", cwd=folder)
    git("commit", "-qm", "the demo app", cwd=folder)
    return folder


def runner_env(tracking: Tracking, s3: S3, state_url: str) -> dict[str, str]:
    """What a runner is given: the servers' addresses and credentials, nothing of this one."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_"))}
    return {
        **base,
        **s3.env,
        "PYTHONPATH": str(ROOT),
        "MLFLOW_TRACKING_URI": tracking.uri,
        "STATE_DB_URL": state_url,
    }


def runner(origin: Path, folder: Path) -> Path:
    """A fresh checkout: nothing of another runner's `.llmspec`."""
    git("clone", "-q", str(origin), str(folder), cwd=origin.parent)
    return folder


def llmspec(where: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmspec", *argv],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_staging_on_one_runner_prod_on_another_serving_on_a_third(
    tracking_server: Tracking, s3: S3, fresh_postgres_url: str, tmp_path: Path
) -> None:
    env = runner_env(tracking_server, s3, fresh_postgres_url)
    origin = make_origin(tmp_path / "origin", env)

    a = runner(origin, tmp_path / "runner-a")
    staged = llmspec(a, env, "apply", "specs/demo.yaml", "-e", "staging")
    assert staged.returncode == 0, staged.stdout[-3000:] + staged.stderr[-3000:]
    shutil.rmtree(a)

    b = runner(origin, tmp_path / "runner-b")
    planned = llmspec(b, env, "plan", "specs/demo.yaml", "-e", "prod", "--json")
    assert planned.returncode == 0, planned.stderr
    actions = {
        c["address"]: (c["action"], c["reuse_from"]) for c in json.loads(planned.stdout)["changes"]
    }
    for address in ("dataset.train", "index.demo", "finetune.demo", "package.demo"):
        assert actions[address] == ("reuse", "staging"), actions
    assert actions["promote.demo@champion"][0] == "create"
    promoted = llmspec(b, env, "apply", "specs/demo.yaml", "-e", "prod")
    assert promoted.returncode == 0, promoted.stdout[-3000:] + promoted.stderr[-3000:]
    assert "✓ finetune.demo: reused" in promoted.stdout or "finetune.demo" in promoted.stdout
    shutil.rmtree(b)

    client = client_for(tracking_server.uri)
    champion = client.get_model_version_by_alias("demo", "champion")
    challenger = client.get_model_version_by_alias("demo", "challenger")
    assert champion.version == challenger.version, "prod promotes the version staging validated"
    assert len(client.search_model_versions("name='demo'")) == 1, "nothing was built twice"
    assert s3.keys("builds/demo/finetune/"), "the build records are in the bucket"

    c = runner(origin, tmp_path / "runner-c")
    served = subprocess.run(
        [sys.executable, "-c", LOAD], cwd=c, env=env, capture_output=True, text=True, timeout=600
    )
    assert served.returncode == 0, served.stderr[-3000:]
    assert served.stdout.strip().startswith("[")

    # drift on the team's server: the alias moved by hand is seen from yet another checkout
    client.set_registered_model_alias("demo", "champion", challenger.version)
    client.delete_registered_model_alias("demo", "champion")
    seen = llmspec(c, env, "plan", "specs/demo.yaml", "-e", "prod", "--json")
    assert seen.returncode == 0, seen.stderr
    changes = {ch["address"]: ch for ch in json.loads(seen.stdout)["changes"]}
    promote = changes["promote.demo@champion"]
    assert promote["action"] == "update" and promote["reasons"][0]["code"] == "changed_outside"


def test_a_runner_packages_a_model_another_runner_trained(
    tracking_server: Tracking, s3: S3, fresh_postgres_url: str, tmp_path: Path
) -> None:
    """Prod's own system prompt: prod packages and evaluates anew on runner B, with the
    fine-tuned adapter runner A trained, fetched from A's MLflow run (and its digest checked)."""
    env = runner_env(tracking_server, s3, fresh_postgres_url)
    prod = '    prompts: {system: "Answer from the context only, in one sentence."}\n'
    origin = make_origin(tmp_path / "origin", env, prod)
    text = (origin / "specs" / "demo.yaml").read_text(encoding="utf-8")
    (origin / "specs" / "demo.yaml").write_text(
        text.replace("name: demo\n", "name: demo-fetch\n", 1), encoding="utf-8"
    )
    git("commit", "-qam", "another app", cwd=origin)

    a = runner(origin, tmp_path / "runner-a")
    assert llmspec(a, env, "apply", "specs/demo.yaml", "-e", "staging").returncode == 0
    shutil.rmtree(a)

    b = runner(origin, tmp_path / "runner-b")
    done = llmspec(b, env, "apply", "specs/demo.yaml", "-e", "prod")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "✓ finetune.demo-fetch: reused" in done.stdout
    assert "fetching the fine-tuned model from run" in done.stdout, done.stdout
    assert "✓ package.demo-fetch: done" in done.stdout and "✓ eval.demo-fetch: done" in done.stdout
    client = client_for(tracking_server.uri)
    champion = client.get_model_version_by_alias("demo-fetch", "champion")
    challenger = client.get_model_version_by_alias("demo-fetch", "challenger")
    assert champion.version != challenger.version
    assert champion.run_id != challenger.run_id


def test_a_runner_killed_mid_apply_is_finished_by_another(
    tracking_server: Tracking, s3: S3, fresh_postgres_url: str, tmp_path: Path
) -> None:
    """kill -9 of runner B while it trains, once a checkpoint is in the bucket; runner C, another
    checkout, finds the lock B left in the shared state (here on S3, locked by a conditional
    write), breaks it as an operator would, and finishes: what B completed is not built again,
    and the fine-tune resumes from B's checkpoint."""
    env = runner_env(tracking_server, s3, fresh_postgres_url)
    on_s3 = (
        "\nstate:\n  backend: s3\n  url: s3://team/runner-state\n  artifacts: s3://team/builds\n"
    )
    origin = make_origin(tmp_path / "origin", env, team=on_s3)
    spec = origin / "specs" / "demo.yaml"
    spec.write_text(
        spec.read_text(encoding="utf-8").replace("name: demo\n", "name: demo-killed\n", 1),
        encoding="utf-8",
    )
    git("commit", "-qam", "another app", cwd=origin)

    b = runner(origin, tmp_path / "runner-b")
    longer = [
        "--set",
        "finetune.training.epochs=100",
        "--set",
        "finetune.training.checkpoint_steps=5",
    ]
    apply = [sys.executable, "-m", "llmspec", "apply", "specs/demo.yaml", "-e", "staging", *longer]
    process = subprocess.Popen(
        apply, cwd=b, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert process.stdout is not None
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(process.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if any(k.endswith("/.complete") for k in s3.keys("builds/demo-killed/finetune/")):
            break
        time.sleep(0.2)
    assert process.poll() is None, "training ended before a checkpoint reached the bucket"
    os.killpg(process.pid, signal.SIGKILL)  # the apply and its training job, at once
    process.wait(timeout=60)
    reader.join(timeout=10)
    assert any("✓ index.demo: done" in line for line in seen), seen
    shutil.rmtree(b)

    c = runner(origin, tmp_path / "runner-c")
    blocked = llmspec(c, env, "apply", "specs/demo.yaml", "-e", "staging")
    assert blocked.returncode == 1 and "LS603" in blocked.stderr, blocked.stderr
    unlocked = llmspec(c, env, "state", "unlock", "specs/demo.yaml", "-e", "staging")
    assert unlocked.returncode == 0, unlocked.stderr
    done = llmspec(c, env, "apply", "specs/demo.yaml", "-e", "staging", *longer)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "index.demo" not in done.stdout and "dataset.train" not in done.stdout
    assert "from the build store (another runner's, interrupted)" in done.stdout, done.stdout
    assert "(resumed)" in done.stdout and "resuming from step" in done.stdout, done.stdout
    assert "✓ finetune.demo-killed: done" in done.stdout
    client = client_for(tracking_server.uri)
    assert len(client.search_model_versions("name='demo-killed'")) == 1
    assert "runner-state/demo-killed/staging/state.json" in s3.keys("runner-state/")
    assert not [k for k in s3.keys("runner-state/") if k.endswith("lock.json")], "released"
