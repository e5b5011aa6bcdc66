"""The build store on S3 (engine/build_store.py) against moto's real S3 API: what one runner
records another finds, and a store that cannot be reached is a diagnostic, not a crash."""

from __future__ import annotations

import json

import pytest

from llmspec.cli import main
from llmspec.core.diagnostics import SpecError
from llmspec.engine.build_store import ArtifactStore
from tests.conftest import MINIMAL
from tests.team.servers import S3, free_port


@pytest.fixture
def s3_env(s3: S3, monkeypatch: pytest.MonkeyPatch) -> S3:
    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    return s3


def test_what_one_runner_records_another_finds(s3_env: S3, tmp_path) -> None:
    one = ArtifactStore(tmp_path / "a", f"s3://{s3_env.bucket}/stores/shared/")
    other = ArtifactStore(tmp_path / "b", f"s3://{s3_env.bucket}/stores/shared")
    assert other.find("app", "index", "sha256:abc") is None
    one.record("app", "index", "index.docs", "staging", "sha256:abc", {"version": 3})
    found = other.find("app", "index", "sha256:abc")
    assert found is not None and (found.env, found.outputs) == ("staging", {"version": 3})
    assert "stores/shared/app/index/abc/record.json" in s3_env.keys("stores/")
    assert not (tmp_path / "a").exists(), "records go to the bucket, not the runner"
    assert repr(one) == f"s3://{s3_env.bucket}/stores/shared"


def test_an_unreachable_store_is_a_diagnostic(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    store = ArtifactStore(tmp_path, "s3://nowhere/builds")
    with pytest.raises(SpecError) as raised:
        store.find("app", "index", "sha256:abc")
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.code == "LS624" and "s3://nowhere/builds" in diagnostic.message
    assert "AWS_ENDPOINT_URL" in (diagnostic.hint or "")


def test_plan_reads_the_bucket_the_spec_names(s3_env: S3, write, capsys) -> None:
    spec = write(
        "app.yaml",
        MINIMAL + f"state:\n  artifacts: s3://{s3_env.bucket}/plan-test\n",
    )
    assert main(["plan", str(spec), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["create"] >= 1
    missing = write("missing.yaml", MINIMAL + "state:\n  artifacts: s3://no-such-bucket/x\n")
    assert main(["plan", str(missing)]) == 1
    assert "LS624" in capsys.readouterr().err
