"""Online judges: the evaluation's metrics scored on a sample of served traces, each score
written onto its trace as an MLflow assessment (feedback named after the metric, with an
`LLM_JUDGE` source for a judge metric and `CODE` for a plug-in or built-in).

What a metric sees is what it sees offline (`kinds/evaluate/score.py`): the request's inputs
as the record (with the reference answer a user's correction gave, if any, else empty), and the
served answer, sources, latency and token counts. A trace already scored by a metric is not
scored again, so `llmspec monitor` and `llmspec rollout` may run it as often as they like. A
trace is sampled by a hash of its id against `sample_rate`: the same traces are picked on every
run and on every machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.workspace import Workspace


@dataclass(frozen=True)
class Judged:
    scored: dict[str, int] = field(default_factory=dict)  # metric -> traces scored now
    unscored: dict[str, int] = field(default_factory=dict)  # metric -> the judge gave no grade


def sampled(trace_id: str, rate: float) -> bool:
    digest = hashlib.sha256(trace_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def assessment_values(trace: Any, name: str) -> list[Any]:
    """The values of a trace's feedback assessments named ``name`` (the valid ones)."""
    out = []
    for a in getattr(trace.info, "assessments", None) or []:
        if a.name == name and a.valid is not False and a.feedback is not None:
            out.append(a.value)
    return out


def correction(trace: Any) -> str | None:
    for a in getattr(trace.info, "assessments", None) or []:
        if a.name == "expected_response" and a.expectation is not None:
            return str(a.value)
    return None


def judge_traces(ws: Workspace, traces: Sequence[Any], tracking: str) -> Judged:
    """Score each online judge's sample of ``traces`` that it has not scored yet. ``traces``
    may be read without their spans: the ones to score are read again whole."""
    judges = ws.resolved.spec.serving.monitoring.judges
    if not judges or not traces:
        return Judged()
    evaluation = ws.resolved.spec.evaluation
    assert evaluation is not None  # checked at validate time (LS466)
    import mlflow
    from mlflow.entities import AssessmentSource, AssessmentSourceType

    from llmspec.kinds.evaluate.score import scorer

    dataset = next(iter(evaluation.datasets.values()))
    metrics = {m.name: m.model_dump(mode="json") for m in evaluation.metrics}
    out = Judged()
    for judge in judges:
        metric = metrics[judge.metric]
        allowed = _matching(ws, traces, judge.filter)
        todo = [
            t
            for t in traces
            if t.info.trace_id in allowed
            and sampled(t.info.trace_id, judge.sample_rate)
            and _answered(t)
            and not assessment_values(t, judge.metric)
        ]
        if not todo:
            continue
        todo = _whole(todo, tracking)
        score = scorer(
            metric,
            dataset.answer_field,
            dataset.relevant_field,
            ws.resolved.path.parent,
            dataset.question_field,
            ws.layout.cache / "models",
        )
        kind = AssessmentSourceType.LLM_JUDGE if metric.get("judge") else AssessmentSourceType.CODE
        source = AssessmentSource(source_type=kind, source_id=f"llmspec:{judge.metric}")
        for trace in todo:
            record, prediction = _example(trace, dataset.question_field, dataset.answer_field)
            try:
                value = score(record, prediction)
            except Exception as exc:
                raise SpecError(
                    [
                        error(
                            "LS872",
                            f"online judge `{judge.metric}` failed on trace "
                            f"`{trace.info.trace_id}`: {type(exc).__name__}: {exc}",
                            hint="fix the metric; traces it scored before keep their scores",
                        )
                    ]
                ) from exc
            if value is None:
                out.unscored[judge.metric] = out.unscored.get(judge.metric, 0) + 1
                continue
            mlflow.log_feedback(
                trace_id=trace.info.trace_id, name=judge.metric, value=float(value), source=source
            )
            out.scored[judge.metric] = out.scored.get(judge.metric, 0) + 1
    return out


def _whole(traces: Sequence[Any], tracking: str) -> list[Any]:
    """The traces with their spans (what a metric reads: the inputs and the answer)."""
    if all(t.data.spans for t in traces):
        return list(traces)
    from llmspec.integrations.mlflow import search_traces

    wanted = {t.info.trace_id for t in traces}
    since = min(int(t.info.timestamp_ms or 0) for t in traces) - 1
    found = search_traces(tracking, traces[0].info.experiment_id, since)
    return [t for t in found if t.info.trace_id in wanted]


def _answered(trace: Any) -> bool:
    return str(getattr(trace.info.state, "value", trace.info.state)) == "OK"


def _matching(ws: Workspace, traces: Sequence[Any], filter_string: str | None) -> set[str]:
    """The ids of ``traces`` a judge's MLflow filter lets through (all without one)."""
    ids = {t.info.trace_id for t in traces}
    if not filter_string:
        return ids
    import mlflow

    experiment = traces[0].info.experiment_id
    since = min(int(t.info.timestamp_ms or 0) for t in traces)
    try:
        found = mlflow.search_traces(
            locations=[experiment],
            filter_string=f"timestamp_ms >= {since} AND {filter_string}",
            return_type="list",
            max_results=100_000,
            include_spans=False,
        )
    except Exception as exc:
        raise SpecError(
            [
                error(
                    "LS871",
                    f"the online judge's filter `{filter_string}` was refused: {exc}",
                    hint="it is an MLflow trace search filter, e.g. "
                    "tags.`llmspec.arm` = 'challenger'",
                )
            ]
        ) from None
    return ids & {t.info.trace_id for t in found}


def _example(
    trace: Any, question_field: str, answer_field: str
) -> tuple[dict[str, Any], Mapping[str, Any]]:
    root = next((s for s in trace.data.spans if s.parent_id is None), None)
    inputs = (root.inputs if root is not None else None) or {}
    outputs = (root.outputs if root is not None else None) or {}
    record = dict(inputs) if isinstance(inputs, Mapping) else {}
    if question_field not in record and record:
        record[question_field] = next(iter(record.values()))
    record[answer_field] = correction(trace) or ""
    if not isinstance(outputs, Mapping):
        outputs = {"answer": str(outputs)}
    prediction = {
        "answer": str(outputs.get("answer", "")),
        "sources": [{"source": s} for s in outputs.get("sources") or []],
        "latency_ms": float(outputs.get("latency_ms") or trace.info.execution_duration or 0),
        "tokens_in": int(outputs.get("tokens_in") or 0),
        "tokens_out": int(outputs.get("tokens_out") or 0),
    }
    return record, prediction
