"""Batch inference on the promoted example: `llmspec predict` over JSON Lines and Parquet with
per-record errors kept, its bad inputs, and the rendered PySpark job run on a local Spark."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.example.support import llmspec, outputs

pytestmark = pytest.mark.slow
pytest.importorskip("mlflow")

QUESTION = "Who can change the billing contact?"


def predict(
    repo: Path, source: Path, target: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return llmspec(
        "predict", "specs/support-bot.yaml", "-e", "dev",
        "--input", str(source), "--output", str(target), *extra, cwd=repo,
    )  # fmt: skip


def test_predict_keeps_every_record_and_each_failure_in_order(
    applied: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "questions.jsonl"
    source.write_text(
        json.dumps({"id": 1, "question": QUESTION}) + "\n"
        + "{not json\n"
        + json.dumps({"id": 3, "topic": "no question here"}) + "\n"
        + "\n"
        + json.dumps(["a", "list"]) + "\n"
        + json.dumps({"id": 6, "question": "How do I reset my password?"}) + "\n"
    )  # fmt: skip
    target = tmp_path / "answers.jsonl"
    done = predict(applied["repo"], source, target)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "LS821" in done.stderr and "3 of 5 records could not be answered" in done.stderr
    assert "2 answered, 3 failed, 5 records" in done.stdout
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(rows) == 5
    assert rows[0]["id"] == 1 and rows[0]["answer"] == "Only owners." and rows[0]["error"] is None
    assert any(s.endswith("billing/invoices.md") for s in rows[0]["sources"])
    assert "line 2 is not JSON" in rows[1]["error"] and rows[1]["answer"] is None
    assert rows[2]["id"] == 3 and "has no `question`" in rows[2]["error"]
    assert "line 5 is a JSON list" in rows[3]["error"]
    assert rows[4]["id"] == 6 and rows[4]["answer"] and rows[4]["error"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.jsonl", "questions.jsonl"]


def test_predict_reads_and_writes_parquet_with_bounded_params(
    applied: dict[str, Any], tmp_path: Path
) -> None:
    import pandas as pd

    source = tmp_path / "questions.parquet"
    pd.DataFrame({"question": [QUESTION, "Where do I find invoices?"], "n": [1, 2]}).to_parquet(
        source
    )
    target = tmp_path / "answers.parquet"
    done = predict(applied["repo"], source, target, "--param", "max_new_tokens=2")
    assert done.returncode == 0, done.stdout + done.stderr
    frame = pd.read_parquet(target)
    assert list(frame["n"]) == [1, 2] and frame["error"].isna().all()
    assert (frame["tokens_out"] <= 2).all()  # the request's setting, within the spec's limits


@pytest.mark.parametrize(
    ("source", "target", "extra", "message"),
    [
        ("missing.jsonl", "out.jsonl", (), "does not exist"),
        ("questions.jsonl", "out.txt", (), "`.txt` is not a supported format"),
        ("questions.jsonl", "questions.jsonl", (), "would overwrite the input"),
        ("questions.jsonl", "no/such/folder/out.jsonl", (), "does not exist"),
        ("questions.jsonl", "out.jsonl", ("--param", "top_k=3"), "not a generation setting"),
    ],
)
def test_unusable_paths_and_params_fail_before_loading_anything(
    applied: dict[str, Any],
    tmp_path: Path,
    source: str,
    target: str,
    extra: tuple[str, ...],
    message: str,
) -> None:
    (tmp_path / "questions.jsonl").write_text(json.dumps({"question": QUESTION}) + "\n")
    done = predict(applied["repo"], tmp_path / source, tmp_path / target, *extra)
    assert done.returncode == 1
    assert "LS820" in done.stderr and message in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["questions.jsonl"]


def test_the_rendered_spark_job_answers_on_a_local_spark(
    applied: dict[str, Any], tmp_path: Path
) -> None:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime")
    import pandas as pd

    repo = applied["repo"]
    assert llmspec("render", "specs/support-bot.yaml", "-e", "dev", cwd=repo).returncode == 0
    job = repo / "build" / "support-bot" / "dev" / "deploy" / "spark" / "predict.py"
    source = tmp_path / "in.parquet"
    pd.DataFrame({"id": [1, 2], "question": [QUESTION, "Where do I find invoices?"]}).to_parquet(
        source
    )
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": outputs(applied, "package.support-bot")["tracking_uri"],
        "PYSPARK_PYTHON": sys.executable,
    }
    done = subprocess.run(
        [sys.executable, str(job), "--input", str(source), "--output", str(tmp_path / "out")],
        cwd=repo, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    frame = pd.read_parquet(tmp_path / "out").sort_values("id")
    assert list(frame.columns) == [
        "id", "question", "answer", "sources", "latency_ms", "tokens_in", "tokens_out",
        "trace_id",
    ]  # fmt: skip
    assert frame.iloc[0]["answer"] == "Only owners."
    assert any(str(s).endswith("billing/invoices.md") for s in frame.iloc[0]["sources"])
    again = subprocess.run(
        [sys.executable, str(job), "--input", str(source), "--output", str(tmp_path / "out")],
        cwd=repo, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert again.returncode != 0 and "already exists" in again.stderr  # never overwritten
