"""`llmspec feedback export --format preference`: corrections, ratings and a shadow rollout's
judged answers become preference pairs. The traces are real MLflow traces in a local sqlite
store, written by the server's own `request_trace` with the tags it gives a rollout's two arms;
the feedback is real (`record_feedback`, and `mlflow.log_feedback` as an online judge writes
it); the promotion is a state record."""

from __future__ import annotations

import dataclasses
import json
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")

from tests.operate.test_harvest import promote, tracking_uri_kept

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
finetune:
  dataset: {train: data/train.jsonl, format: instruction}
  preference:
    method: orpo
    dataset:
      train: data/pairs.jsonl
      fields: {prompt: question, chosen: better, rejected: worse}
evaluation:
  datasets:
    golden: data/eval.jsonl
  metrics:
    - name: helpfulness
      judge: {model: {source: builtin, id: tiny-gpt2}, rubric: Does the answer help the user?}
    - name: tone
      judge: {model: {source: builtin, id: tiny-gpt2}, rubric: Is the answer polite?}
    - name: brevity
      judge: {model: {source: builtin, id: tiny-gpt2}, rubric: Is the answer short?}
serving:
  monitoring:
    log_traces: true
    feedback: true
    judges:
      - metric: helpfulness
      - metric: tone
environments:
  prod: {}
"""
FIELDS = {"prompt": "question", "chosen": "better", "rejected": "worse"}
CHAMPION = {"llmspec.model_version": "demo/3", "llmspec.rollout": "r-1", "llmspec.arm": "champion"}
CHALLENGER = CHAMPION | {"llmspec.model_version": "demo/4", "llmspec.arm": "challenger"}
EARLIER = CHALLENGER | {"llmspec.rollout": "r-0"}  # another rollout's challenger
# name, question, answer, the trace's rollout tags (none: served outside a rollout), and its
# feedback: ("rate", (rating, correction)) from a person, ("judge", (metric, score)) online;
# in the order served. `brevity` is an eval metric but no online judge.
SERVED: list[tuple[str, str, str, dict[str, str], list[tuple[str, Any]]]] = [
    ("plan", "Who can change the plan?", "Anyone.", {},
     [("rate", ("down", "Only owners can change the plan."))]),
    ("api", "Is there an API?", "Yes, REST.", {}, [("rate", (None, "  Yes, REST.  "))]),
    ("trial-up", "How long is the trial?", "14 days.", {}, [("rate", ("up", None))]),
    ("trial-case", "how long is the trial?", "Forever.", {}, [("rate", ("down", None))]),
    ("trial-down", "How long  is the trial? ", "A month.", {}, [("rate", ("down", None))]),
    ("trial-up-again", "How long is the trial?", "14 days.", {}, [("rate", ("up", None))]),
    ("trial-mixed", "How long is the trial?", "It depends.", {},
     [("rate", ("up", None)), ("rate", ("down", None))]),
    ("trial-same", "How long is the trial?", "14 days. ", {}, [("rate", ("down", None))]),
    ("cancel-corrected", "Can I cancel?", "Never.", {}, [("rate", ("down", "Any time."))]),
    ("cancel-up", "Can I cancel?", "Any time.", {}, [("rate", ("up", None))]),
    ("refund-champion", "Can I get a refund?", "No.", CHAMPION,
     [("judge", ("helpfulness", 0.2))]),
    ("refund-challenger", "Can I get a refund?", "Within 30 days.", CHALLENGER,
     [("judge", ("helpfulness", 0.9))]),
    ("sla-champion", "What is the SLA?", "99.9% uptime.", CHAMPION,
     [("judge", ("helpfulness", 0.8)), ("judge", ("tone", 0.9))]),
    ("sla-challenger", "What is the SLA?", "Dunno.", CHALLENGER,
     [("judge", ("helpfulness", 0.3)), ("judge", ("tone", 0.9))]),
    ("sso-champion", "Do you support SSO?", "Yes.", CHAMPION, [("judge", ("helpfulness", 0.7))]),
    ("sso-challenger", "Do you support SSO?", "Yes, SAML.", CHALLENGER,
     [("judge", ("helpfulness", 0.7))]),
    ("free-champion", "Is there a free plan?", "No.", CHAMPION,
     [("judge", ("helpfulness", 0.6)), ("judge", ("brevity", 0.1))]),
    ("free-challenger", "Is there a free plan?", "Yes, up to 3 seats.", CHALLENGER,
     [("judge", ("brevity", 0.9))]),
    ("invoice-champion", "Where is my invoice?", "Billing tab.", CHAMPION,
     [("judge", ("helpfulness", 0.9)), ("judge", ("tone", 0.2))]),
    ("invoice-challenger", "Where is my invoice?", "Check your email.", CHALLENGER,
     [("judge", ("helpfulness", 0.4)), ("judge", ("tone", 0.8))]),
    ("regions-champion", "What regions?", "EU and US.", CHAMPION,
     [("judge", ("helpfulness", 0.9))]),
    ("regions-earlier", "What regions?", "US.", EARLIER, [("judge", ("helpfulness", 0.1))]),
]  # fmt: skip


@pytest.fixture(autouse=True)
def _tracking_uri() -> Iterator[None]:
    with tracking_uri_kept():
        yield


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A tracking store holding the prod experiment's served traces with their feedback and
    judges' scores: the name of each trace -> its id, and the store's URI."""
    import mlflow
    from mlflow.entities import AssessmentSource, AssessmentSourceType

    from llmspec.integrations.mlflow import client_for, experiment_id
    from llmspec.runtime.contracts import MonitoringConfig
    from llmspec.runtime.feedback import record_feedback
    from llmspec.runtime.tracing import request_trace
    from tests.runtime.test_runtime_alone import APP

    root = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    experiment = experiment_id(client_for(uri), "llmspec/demo/prod", root / "mlartifacts")
    config = dataclasses.replace(APP, app="demo", monitoring=MonitoringConfig(True, True, 1.0))
    traces: dict[str, str] = {}
    with tracking_uri_kept(), pytest.MonkeyPatch.context() as env:
        for name, value in {"LLMSPEC_TRACE": "1", "LLMSPEC_ENV": "prod",
                            "LLMSPEC_MODEL_VERSION": "3"}.items():  # fmt: skip
            env.setenv(name, value)
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(experiment_id=experiment)
        for name, question, answer, tags, _ in SERVED:
            with request_trace(config, {"question": question}, tags) as trace:
                trace.span.set_outputs({"answer": answer, "sources": [], "latency_ms": 5.0,
                                        "trace_id": trace.trace_id})  # fmt: skip
            traces[name] = trace.trace_id
            time.sleep(0.005)  # distinct start times: the pairs are ordered by them
        mlflow.flush_trace_async_logging()
        for name, _, _, _, events in SERVED:
            for user, (kind, detail) in enumerate(events):
                if kind == "rate":
                    rating, correction = detail
                    record_feedback(traces[name], rating, None, correction, user=f"qa-{user}")
                else:
                    metric, score = detail
                    source = AssessmentSource(
                        source_type=AssessmentSourceType.LLM_JUDGE, source_id=f"llmspec:{metric}"
                    )
                    mlflow.log_feedback(trace_id=traces[name], name=metric, value=score,
                                        source=source)  # fmt: skip
    yield {"uri": uri, "traces": traces}


def write_project(repo: Path, spec: str) -> None:
    (repo / "data").mkdir()
    (repo / "app.yaml").write_text(textwrap.dedent(spec), encoding="utf-8")
    for name in ("train.jsonl", "eval.jsonl"):
        (repo / "data" / name).write_text('{"question": "q", "answer": "a"}\n', encoding="utf-8")
    pairs = {"question": "q", "better": "a", "worse": "b"}
    (repo / "data" / "pairs.jsonl").write_text(json.dumps(pairs) + "\n", encoding="utf-8")


@pytest.fixture
def project(repo: Path, served: dict[str, Any]) -> Path:
    write_project(repo, SPEC)
    promote(repo, served["uri"])
    return repo


def export(repo: Path, fmt: str | None = "preference") -> Any:
    from llmspec.api import open_workspace
    from llmspec.operate.feedback_export import export_feedback

    ws = open_workspace(repo / "app.yaml", "prod")
    return export_feedback(ws, repo / "out.jsonl", 0, fmt)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def pair(
    ids: dict[str, str], prompt: str, chosen: tuple[str, str], rejected: tuple[str, str], why: str
) -> dict[str, Any]:
    return {
        "question": prompt,
        "better": chosen[1],
        "worse": rejected[1],
        "trace_ids": {"chosen": ids[chosen[0]], "rejected": ids[rejected[0]]},
        "reason": why,
    }


def test_corrections_ratings_and_judged_shadow_answers_become_pairs(
    project: Path, served: dict[str, Any]
) -> None:
    from llmspec.runtime.preference_data import check_record, read_records

    found = export(project)
    ids = served["traces"]
    records = lines(project / "out.jsonl")
    assert records == [
        # 1: the correction over the answer it corrects; `api`'s equals its answer stripped
        pair(ids, "Who can change the plan?", ("plan", "Only owners can change the plan."),
             ("plan", "Anyone."), "correction"),
        # 2: up over down to one question, spacing aside (`trial-case` asks another: case
        # kept); `trial-up-again` repeats a pair, `trial-same` gives the up-rated text
        pair(ids, "How long is the trial?", ("trial-up", "14 days."),
             ("trial-down", "A month."), "rating"),
        pair(ids, "How long is the trial?", ("trial-up", "14 days."),
             ("trial-mixed", "It depends."), "rating"),
        # the rating pair `cancel-up` over `cancel-corrected` repeats this one, which came first
        pair(ids, "Can I cancel?", ("cancel-corrected", "Any time."),
             ("cancel-corrected", "Never."), "correction"),
        # 3: the judged better of one shadowed request, either arm; a tie (`sso`), a missing
        # score (`free`: brevity is no online judge), judges that disagree (`invoice`) and two
        # rollouts (`regions`) give none
        pair(ids, "Can I get a refund?", ("refund-challenger", "Within 30 days."),
             ("refund-champion", "No."), "judge"),
        pair(ids, "What is the SLA?", ("sla-champion", "99.9% uptime."),
             ("sla-challenger", "Dunno."), "judge"),
    ]  # fmt: skip
    assert all(check_record(r, FIELDS, "orpo") is None for r in records)
    assert len(read_records(project / "out.jsonl", FIELDS, "orpo")) == 6  # as the stage reads
    assert (found.records, found.format) == (6, "preference")
    assert found.reasons == {"correction": 2, "rating": 2, "judge": 2}
    assert found.skipped == len(SERVED) - 9  # traces in no written pair


def test_without_a_preference_stage_the_fields_are_trls(repo: Path, served: dict[str, Any]) -> None:
    from llmspec.runtime.preference_data import check_record

    spec = SPEC.replace(SPEC[SPEC.index("  preference:") : SPEC.index("evaluation:")], "")
    write_project(repo, spec)
    promote(repo, served["uri"])
    found = export(repo)
    records = lines(repo / "out.jsonl")
    assert found.records == len(records) == 6
    assert records[0] == {
        "prompt": "Who can change the plan?",
        "chosen": "Only owners can change the plan.",
        "rejected": "Anyone.",
        "trace_ids": {"chosen": served["traces"]["plan"], "rejected": served["traces"]["plan"]},
        "reason": "correction",
    }
    assert all(check_record(r) is None for r in records)


def test_the_default_format_is_still_the_fine_tunes(project: Path) -> None:
    found = export(project, None)
    assert found.format == "instruction" and found.reasons == {}
    records = lines(project / "out.jsonl")
    assert {"instruction": "Who can change the plan?",
            "output": "Only owners can change the plan."} in records  # fmt: skip
    assert all(set(r) == {"instruction", "output"} for r in records)


def test_an_unknown_format_is_ls830(project: Path) -> None:
    from llmspec.core.diagnostics import SpecError

    with pytest.raises(SpecError) as raised:
        export(project, "sharegpt")
    assert raised.value.diagnostics[0].code == "LS830"
    assert not (project / "out.jsonl").exists()


def cli(*args: str) -> int:
    from llmspec.cli import main

    return main(["feedback", "export", "app.yaml", "-e", "prod", *args])


def test_the_cli_writes_pairs_and_counts_them_by_reason(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from llmspec.runtime.preference_data import read_records

    assert cli("--format", "preference", "--output", "pairs.jsonl") == 0
    out = capsys.readouterr().out
    assert (
        "wrote pairs.jsonl: 6 preference pair(s) (by reason: 2 correction, 2 rating, 2 judge); "
        f"{len(SERVED) - 9} trace(s) in no pair"
    ) in out
    assert len(read_records(project / "pairs.jsonl", FIELDS, "orpo")) == 6
    assert [p.name for p in project.iterdir() if p.name.endswith(".tmp")] == []

    assert cli("--output", "sft.jsonl") == 0
    assert "instruction record(s) from corrected or up-rated requests" in capsys.readouterr().out


def test_the_cli_refuses_an_unknown_format(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        cli("--format", "sharegpt", "--output", "pairs.jsonl")
    assert raised.value.code == 2
    assert "invalid choice: 'sharegpt'" in capsys.readouterr().err


def shadow(at_ms: int, arm: str, question: str = "Q?", rollout: str = "r-1") -> Any:
    from llmspec.operate.preference_pairs import Served

    inputs = json.dumps({"question": question})
    return Served(f"{arm}-{at_ms}", at_ms, question, inputs, "A.", None, (), {}, rollout, arm)


@pytest.mark.parametrize(
    ("traces", "linked"),
    [
        pytest.param(
            [shadow(0, "champion"), shadow(40, "challenger")],
            [("challenger-40", "champion-0")],
            id="one-request",
        ),
        pytest.param(
            [shadow(0, "champion"), shadow(61_000, "challenger")], [], id="more-than-a-minute"
        ),
        pytest.param(
            [shadow(0, "champion"), shadow(5_000, "champion"), shadow(4_000, "challenger")],
            [("challenger-4000", "champion-5000")],
            id="the-nearest",
        ),
        pytest.param(
            [shadow(0, "champion"), shadow(10, "challenger"), shadow(20, "challenger")],
            [("challenger-10", "champion-0")],
            id="each-trace-once",
        ),
        pytest.param(
            [shadow(0, "champion"), shadow(10, "challenger", question="Other?")],
            [],
            id="other-inputs",
        ),
        pytest.param(
            [shadow(0, "champion", rollout="r-0"), shadow(10, "challenger")], [], id="two-rollouts"
        ),
    ],
)
def test_a_shadowed_requests_two_traces(traces: list[Any], linked: list[tuple[str, str]]) -> None:
    from llmspec.operate.preference_pairs import shadowed

    found = shadowed(sorted(traces, key=lambda s: s.at_ms))
    assert [(a.trace_id, b.trace_id) for a, b in found] == linked
