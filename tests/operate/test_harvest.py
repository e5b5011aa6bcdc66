"""`llmspec feedback harvest`: failed production requests become candidate eval records. The
traces are real MLflow traces in a local sqlite store, written by the server's own
`request_trace` with its tags, inputs and outputs; the feedback is real (`record_feedback`, and
`mlflow.log_feedback` as an online judge writes it); the promotion is a state record."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")

SPEC = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata:
  name: demo
model:
  source: builtin
  id: tiny-gpt2
prompts:
  templates:
    answer:
      template: "Q: {{ question }} A:"
evaluation:
  datasets:
    golden:
      path: data/eval.jsonl
      question_field: query
      answer_field: reference
      slice_field: topic
    extra: data/extra.jsonl
  metrics:
    - rouge_l
    - name: helpfulness
      judge:
        model: {source: builtin, id: tiny-gpt2}
        rubric: Does the answer help the user?
    - name: tone
      judge:
        model: {source: builtin, id: tiny-gpt2}
        rubric: Is the answer polite?
serving:
  monitoring:
    log_traces: true
    feedback: true
    judges:
      - metric: helpfulness
environments:
  prod: {}
"""
GOLDEN = [{"query": "How do I reset my password?", "reference": "Settings, then Security."}]
EXTRA = [{"question": "When are invoices issued?", "answer": "On the first of the month."}]
# question, served answer, and what happened to it; `tone` is not an online judge of the spec
SERVED: list[tuple[str, str, list[tuple[str, Any]]]] = [
    ("Who can change the plan?", "Anyone.",
     [("feedback", ("down", "only owners can", "Only owners can change the plan."))]),
    ("who can  change the PLAN? ", "Everyone.", [("feedback", ("down", None, None))]),
    ("Can I get a refund?", "No.", [("feedback", ("down", "we do refund", None))]),
    ("How long is the trial?", "Maybe.", [("judge", ("helpfulness", 0.2, "vague"))]),
    ("Is there an API?", "Yes, REST.",
     [("judge", ("helpfulness", 0.9, None)), ("feedback", ("up", None, None))]),
    ("What is the SLA?", "Dunno.", [("judge", ("tone", 0.1, "curt"))]),
    ("Do you support SSO?", "Yes.",
     [("feedback", ("down", None, None)), ("feedback", ("up", None, None))]),
    ("How do I reset my password?", "Email us.", [("feedback", ("down", None, None))]),
    ("when are invoices  issued?", "Weekly.",
     [("feedback", ("down", None, "On the first of the month."))]),
]  # fmt: skip


@contextmanager
def tracking_uri_kept() -> Iterator[None]:
    """`mlflow.set_tracking_uri` (the fixture's, and every search of traces) exports
    MLFLOW_TRACKING_URI: put it back, so later tests do not read this module's store."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture(autouse=True)
def _tracking_uri() -> Iterator[None]:
    with tracking_uri_kept():
        yield


def sha(question: str) -> str:
    return "sha256:" + hashlib.sha256(question.encode()).hexdigest()[:12]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A tracking store holding the prod experiment's served traces, each with its feedback:
    the question -> trace id, and the store's URI."""
    import mlflow
    from mlflow.entities import AssessmentSource, AssessmentSourceType

    from llmspec.integrations.mlflow import client_for, experiment_id
    from llmspec.runtime.contracts import MonitoringConfig
    from llmspec.runtime.feedback import record_feedback
    from llmspec.runtime.tracing import request_trace
    from tests.runtime.test_runtime_alone import APP

    root = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    # the experiment the server traces into and harvest reads (no `tracking.experiment`)
    experiment = experiment_id(client_for(uri), "llmspec/demo/prod", root / "mlartifacts")
    config = dataclasses.replace(APP, app="demo", monitoring=MonitoringConfig(True, True, 1.0))
    judge = AssessmentSource(source_type=AssessmentSourceType.LLM_JUDGE, source_id="judge")
    traces: dict[str, str] = {}
    with tracking_uri_kept(), pytest.MonkeyPatch.context() as env:
        for name, value in {"LLMSPEC_TRACE": "1", "LLMSPEC_ENV": "prod",
                            "LLMSPEC_MODEL_VERSION": "3"}.items():  # fmt: skip
            env.setenv(name, value)
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(experiment_id=experiment)
        for question, answer, _ in SERVED:
            with request_trace(config, {"question": question}) as trace:
                trace.span.set_outputs({"answer": answer, "sources": [], "latency_ms": 5.0,
                                        "tokens_in": 4, "tokens_out": 2,
                                        "trace_id": trace.trace_id})  # fmt: skip
            traces[question] = trace.trace_id
        mlflow.flush_trace_async_logging()  # the server writes its traces in the background
        for question, _, events in SERVED:
            for kind, detail in events:
                if kind == "feedback":
                    rating, comment, correction = detail
                    record_feedback(traces[question], rating, comment, correction, user="qa")
                else:
                    metric, score, why = detail
                    mlflow.log_feedback(trace_id=traces[question], name=metric, value=score,
                                        rationale=why, source=judge)  # fmt: skip
    yield {"uri": uri, "traces": traces}


@pytest.fixture
def project(repo: Path, served: dict[str, Any]) -> Path:
    """The app's repository, prod promoted (as apply records it) onto the store's traces."""
    write_project(repo, SPEC)
    promote(repo, served["uri"])
    return repo


def write_project(repo: Path, spec: str) -> None:
    (repo / "data").mkdir()
    (repo / "app.yaml").write_text(textwrap.dedent(spec), encoding="utf-8")
    for name, records in (("eval.jsonl", GOLDEN), ("extra.jsonl", EXTRA)):
        lines = "".join(json.dumps(r) + "\n" for r in records)
        (repo / "data" / name).write_text(lines, encoding="utf-8")


def promote(repo: Path, uri: str) -> None:
    from llmspec.api import open_workspace
    from llmspec.kinds.promote.outputs import PromoteOutputs
    from llmspec.plans.address import Address
    from llmspec.state.model import ResourceState

    ws = open_workspace(repo / "app.yaml", "prod")
    outputs = PromoteOutputs("demo", "champion", "3", None, uri).to_outputs()
    address = str(Address.promote("demo", "champion"))
    ws.backend.put_resource("demo", "prod", ResourceState(address, "promote", "d", "complete",
                                                          outputs))  # fmt: skip


def harvest(repo: Path, since_ms: int = 0, output: Path | None = None) -> Any:
    from llmspec.api import open_workspace
    from llmspec.operate.harvest import harvest as run

    return run(open_workspace(repo / "app.yaml", "prod"), output, since_ms)


def cli(*args: str) -> int:
    from llmspec.cli import main

    return main(["feedback", "harvest", "app.yaml", "-e", "prod", *args])


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_down_rated_corrected_and_judge_failed_requests_become_records(
    project: Path, served: dict[str, Any]
) -> None:
    found = harvest(project)
    traces = served["traces"]
    assert found.traces == len(SERVED)
    assert found.output == project / "data" / "eval.harvest-prod.jsonl"
    assert found.dataset == "golden" and found.dataset_path == project / "data" / "eval.jsonl"
    assert (
        lines(found.output)
        == found.records
        == [
            {
                "id": sha("who can change the plan?"),
                "query": "Who can change the plan?",
                "reference": "Only owners can change the plan.",
                "topic": "harvest:corrected",
                "trace_id": traces["Who can change the plan?"],
                "model_version": "3",
                "served_answer": "Anyone.",
                "rationale": "only owners can",
            },
            {
                "id": sha("can i get a refund?"),
                "query": "Can I get a refund?",
                "reference": "",
                "needs_answer": True,
                "topic": "harvest:down-rated",
                "trace_id": traces["Can I get a refund?"],
                "model_version": "3",
                "served_answer": "No.",
                "rationale": "we do refund",
            },
            {
                "id": sha("how long is the trial?"),
                "query": "How long is the trial?",
                "reference": "",
                "needs_answer": True,
                "topic": "harvest:judge-failed:helpfulness",
                "trace_id": traces["How long is the trial?"],
                "model_version": "3",
                "served_answer": "Maybe.",
                "rationale": "vague",
            },
        ]
    )
    assert found.reasons == {"corrected": 1, "down-rated": 1, "judge-failed:helpfulness": 1}
    # the plan's question asked twice is one record (the correction wins); the password and
    # the invoices (another dataset, other case and spacing) are in the eval sets already
    assert found.duplicates == 1 and found.already_in_eval == 2 and found.need_answers == 2
    assert sorted(p.name for p in found.output.parent.iterdir()) == [
        "eval.harvest-prod.jsonl", "eval.jsonl", "extra.jsonl"]  # fmt: skip


def test_the_slice_goes_to_slice_without_a_slice_field(repo: Path, served: dict[str, Any]) -> None:
    write_project(repo, SPEC.replace("      slice_field: topic\n", ""))
    promote(repo, served["uri"])
    records = harvest(repo).records
    assert [r["slice"] for r in records] == [
        "harvest:corrected", "harvest:down-rated", "harvest:judge-failed:helpfulness"]  # fmt: skip
    assert all("topic" not in r for r in records)


def test_a_rerun_after_adding_the_records_proposes_nothing_twice(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli() == 0
    out = capsys.readouterr().out
    harvested = Path("data") / "eval.harvest-prod.jsonl"  # as the spec's path was given
    assert f"wrote {harvested}: 3 candidate eval record(s) from 9 trace(s) of the last 7d" in out
    assert "by reason: 1 corrected, 1 down-rated, 1 judge-failed:helpfulness" in out
    assert "1 repeated question(s) merged; 2 question(s) already in the eval datasets" in out
    assert "2 need a reference answer (`needs_answer: true`)" in out
    assert f"cat {harvested} >> {Path('data') / 'eval.jsonl'}" in out

    # the reviewer answers one (and edits its question: the id still matches), drops one
    records = lines(project / harvested)
    records[1].update(query="Can I get a refund, please?", reference="Within 30 days.")
    del records[1]["needs_answer"]
    kept = [records[0], records[1]]
    with open(project / "data" / "eval.jsonl", "a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in kept)
    again = harvest(project)
    assert [r["query"] for r in again.records] == ["How long is the trial?"]
    assert again.already_in_eval == 4


def test_a_window_without_failures_writes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = harvest(project, since_ms=int(time.time() * 1000) + 60_000)
    assert (found.output, found.records, found.reasons, found.traces) == (None, [], {}, 0)
    assert sorted(p.name for p in (project / "data").iterdir()) == ["eval.jsonl", "extra.jsonl"]

    (project / "data" / "eval.jsonl").write_text(
        "".join(json.dumps({"query": q}) + "\n" for q, _, _ in SERVED), encoding="utf-8"
    )
    assert cli("--since", "1h") == 0
    out = capsys.readouterr().out
    assert "nothing new to harvest from 9 trace(s) of the last 1h" in out
    assert "(5 question(s) already in the eval datasets); nothing written" in out
    assert not (project / "data" / "eval.harvest-prod.jsonl").exists()


@pytest.mark.parametrize(
    "output",
    [
        pytest.param("data", id="a-folder"),
        pytest.param("app.yaml/harvest.jsonl", id="below-a-file"),
    ],
)
def test_an_output_that_cannot_be_written_is_ls880(
    project: Path, output: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folders = (project, project / "data")
    before = [sorted(p.name for p in folder.iterdir()) for folder in folders]
    assert cli("--output", output) == 1
    err = capsys.readouterr().err
    assert "LS880" in err and f"cannot write the harvest `{output}`" in err
    assert "give --output a file in a folder you can write to" in err and "Traceback" not in err
    after = [sorted(p.name for p in folder.iterdir()) for folder in folders]
    assert after == before  # no temporary left behind, nothing replaced
    assert (project / "app.yaml").read_text(encoding="utf-8") == textwrap.dedent(SPEC)


def test_an_existing_output_is_replaced_whole(project: Path) -> None:
    target = project / "review" / "candidates.jsonl"
    target.parent.mkdir()
    target.write_text("stale\n" * 100, encoding="utf-8")
    assert cli("--output", str(target)) == 0
    assert len(lines(target)) == 3
    assert [p.name for p in target.parent.iterdir()] == ["candidates.jsonl"]


def test_a_spec_without_evaluation_is_ls880(
    repo: Path, served: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = SPEC.split("evaluation:")[0] + "environments:\n  prod: {}\n"
    write_project(repo, spec)
    promote(repo, served["uri"])
    assert cli() == 1
    err = capsys.readouterr().err
    assert "LS881" in err and "`demo` has no `evaluation`" in err
    assert "add `evaluation.datasets`" in err


def test_before_the_first_promotion_it_is_ls810(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(repo, SPEC)
    assert cli() == 1
    assert "LS810" in capsys.readouterr().err
