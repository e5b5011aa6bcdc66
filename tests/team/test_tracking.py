"""Which tracking server apply uses (--tracking-uri > MLFLOW_TRACKING_URI > tracking.uri > the
local store), said in the plan; and with a real `mlflow server` whose artifacts live on S3, a
model applied from one folder loads in another that shares nothing with it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llmspec.cli import main
from llmspec.core.tracking import choose_tracking, is_remote
from llmspec.integrations.mlflow import client_for, experiment_id
from tests.conftest import MINIMAL, ROOT
from tests.team.servers import S3, Tracking

SERVER = "http://mlflow.team.example:5000"


@pytest.mark.parametrize(
    ("flag", "variable", "spec", "uri", "source"),
    [
        ("http://flag", "http://variable", "http://spec", "http://flag", "--tracking-uri"),
        (None, "http://variable", "http://spec", "http://variable", "MLFLOW_TRACKING_URI"),
        (None, None, "http://spec", "http://spec", "tracking.uri"),
        (None, None, None, "sqlite:///.llmspec/mlflow.db", "default"),
        (None, "", None, "sqlite:///.llmspec/mlflow.db", "default"),  # set but empty
    ],
)
def test_the_tracking_server_is_chosen_in_one_order(
    flag: str | None, variable: str | None, spec: str | None, uri: str, source: str
) -> None:
    environ = {} if variable is None else {"MLFLOW_TRACKING_URI": variable}
    chosen = choose_tracking(spec, None, flag, environ)
    assert (chosen.uri, chosen.source) == (uri, source)
    assert chosen.registry_uri is None


def test_the_registry_follows_its_own_variable_then_the_spec() -> None:
    assert choose_tracking("a", "b", environ={}).registry_uri == "b"
    environ = {"MLFLOW_REGISTRY_URI": "c", "MLFLOW_TRACKING_URI": "d"}
    assert choose_tracking("a", "b", environ=environ).registry_uri == "c"
    assert is_remote("https://x") and is_remote("databricks") and not is_remote("sqlite:///x")


def test_the_plan_says_which_server_and_why(write, monkeypatch, capsys) -> None:
    spec = write("app.yaml", MINIMAL + f"tracking:\n  uri: {SERVER}\n")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["plan", str(spec)]) == 0
    assert f"Tracking: {SERVER} (from tracking.uri)" in capsys.readouterr().out

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://ci-server:5000")
    assert main(["plan", str(spec), "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["tracking"] == "http://ci-server:5000 (from MLFLOW_TRACKING_URI)"

    assert main(["plan", str(spec), "--format", "markdown", "--tracking-uri", "http://x"]) == 0
    assert "Tracking: `http://x (from --tracking-uri)`" in capsys.readouterr().out

    plain = write("plain.yaml")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert main(["plan", str(plain)]) == 0
    assert "Tracking: sqlite:///.llmspec/mlflow.db (from the local default)" in (
        capsys.readouterr().out
    )


def test_a_saved_plan_holds_only_against_the_server_it_was_made_for(
    write, monkeypatch, capsys
) -> None:
    spec = write("app.yaml")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://one:5000")
    assert main(["plan", str(spec), "--out", "plan.json"]) == 0
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://two:5000")
    capsys.readouterr()
    assert main(["apply", "plan.json"]) == 1
    err = capsys.readouterr().err
    assert "LS604" in err and "made for tracking server http://one:5000" in err
    assert "would use http://two:5000 (from MLFLOW_TRACKING_URI)" in err


def test_a_server_decides_where_artifacts_go(tracking_server: Tracking, tmp_path: Path) -> None:
    remote = client_for(tracking_server.uri)
    created = experiment_id(remote, "team/artifacts", tmp_path / "never-used")
    location = remote.get_experiment(created).artifact_location
    assert location.startswith("mlflow-artifacts:"), location
    assert not (tmp_path / "never-used").exists()
    assert experiment_id(remote, "team/artifacts", tmp_path) == created

    local = client_for(f"sqlite:///{tmp_path / 'mlflow.db'}")
    here = experiment_id(local, "local/artifacts", tmp_path / "mlartifacts")
    assert local.get_experiment(here).artifact_location == (tmp_path / "mlartifacts").as_uri()


LOAD = """
import sys, mlflow
model = mlflow.pyfunc.load_model("models:/demo@champion")
answer = model.predict({"question": ["How do I reset my password?"]})
print(type(answer).__name__, len(answer))
"""


def _runner_env(tracking: Tracking, s3: S3) -> dict[str, str]:
    """A runner: the server's address, and the standard S3 variables (for the LanceDB table).
    No MLFLOW_S3_ENDPOINT_URL: the server proxies every MLflow artifact."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_"))}
    return {**env, **s3.env, "PYTHONPATH": str(ROOT), "MLFLOW_TRACKING_URI": tracking.uri}


@pytest.mark.slow
def test_apply_against_the_team_server_and_load_where_nothing_is_shared(
    tracking_server: Tracking, s3: S3, tmp_path: Path
) -> None:
    runner = tmp_path / "runner-a"
    runner.mkdir()
    (runner / ".git").mkdir()
    env = _runner_env(tracking_server, s3)
    cli = [sys.executable, "-m", "llmspec"]
    subprocess.run([*cli, "init", "demo"], cwd=runner, env=env, check=True, capture_output=True)
    table = f"s3://{s3.bucket}/lancedb"
    done = subprocess.run(
        [*cli, "apply", "specs/demo.yaml", "--set", f"retrieval.store.uri={table}"],
        cwd=runner,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"Tracking: {tracking_server.uri} (from MLFLOW_TRACKING_URI)" in done.stdout
    assert not list(runner.rglob("mlflow.db")), "nothing registered in a local store"
    assert not list(runner.rglob("mlartifacts")), "no artifact kept on the runner"

    client = client_for(tracking_server.uri)
    version = client.get_model_version_by_alias("demo", "champion")
    assert version.source.startswith(("models:/", "mlflow-artifacts:")), version.source
    for run_id in {version.run_id}:
        run = client.get_run(run_id)
        assert run.info.artifact_uri.startswith("mlflow-artifacts:"), run.info.artifact_uri
    stored = s3.keys("mlflow/")
    assert any(key.endswith("/MLmodel") for key in stored), stored[:20]
    assert any(key.startswith("lancedb/demo.lance/") for key in s3.keys("lancedb/"))
    assert not list(runner.rglob("*.lance")), "the table lives in the bucket only"

    # Another machine: the runner's folder is gone, nothing but the server's address is shared.
    shutil.rmtree(runner)
    elsewhere = tmp_path / "runner-b"
    elsewhere.mkdir()
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.split()[-1] == "1"
