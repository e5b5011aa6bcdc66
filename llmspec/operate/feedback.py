"""Human feedback on served requests: a rating, a comment and a correction attached to the
request's MLflow trace as assessments (MLflow's feedback API), from the CLI or the server's
`/v1/feedback` route."""

from __future__ import annotations

from typing import Any

from llmspec.core.diagnostics import SpecError, error

RATINGS = ("up", "down")


def record_feedback(
    trace_id: str,
    rating: str | None = None,
    comment: str | None = None,
    correction: str | None = None,
    user: str = "anonymous",
) -> list[str]:
    """Attach the feedback to the trace (MLflow's tracking URI must point at its store); the
    assessment ids. An unknown trace or an empty feedback is LS619."""
    if rating is None and correction is None and not comment:
        raise SpecError([error("LS619", "give a --rating, a --comment or a --correction")])
    if rating is not None and rating not in RATINGS:
        raise SpecError([error("LS619", f"rating `{rating}` is not one of: up, down")])
    import mlflow
    from mlflow.entities import AssessmentSource, AssessmentSourceType

    try:
        found = mlflow.get_trace(trace_id)
    except Exception:  # MLflow's not-found differs by store: an error or None
        found = None
    if found is None:
        raise SpecError(
            [
                error(
                    "LS619",
                    f"no trace `{trace_id}` in {mlflow.get_tracking_uri()}",
                    hint="the id comes from the server's response (`trace_id`); check "
                    "MLFLOW_TRACKING_URI or --tracking-uri",
                )
            ]
        )
    source = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id=user)
    made: list[Any] = []
    if rating is not None or comment:
        made.append(
            mlflow.log_feedback(
                trace_id=trace_id,
                name="user_rating",
                value=None if rating is None else rating == "up",
                rationale=comment or None,
                source=source,
            )
        )
    if correction:
        made.append(
            mlflow.log_expectation(
                trace_id=trace_id, name="expected_response", value=correction, source=source
            )
        )
    return [str(a.assessment_id) for a in made]


def training_records(
    traces: Any, fmt: str, fields: dict[str, str]
) -> tuple[list[dict[str, Any]], int]:
    """Fine-tune records from served requests people corrected or rated up, in the spec's
    dataset format: a correction is the answer; an up-rating (with no down-rating) keeps the
    model's own answer. Returns the records and how many traces had nothing to give."""
    from llmspec.runtime.sft_data import check_record

    out, skipped = [], 0
    for trace in traces:
        root = next((s for s in trace.data.spans if s.parent_id is None), None)
        inputs = (root.inputs if root is not None else None) or {}
        question = str(next(iter(inputs.values()), "")) if isinstance(inputs, dict) else ""
        assessments = trace.info.assessments or []
        corrections = [a.value for a in assessments if a.name == "expected_response"]
        ratings = [a.value for a in assessments if a.name == "user_rating"]
        answer = None
        if corrections:
            answer = str(corrections[-1])
        elif ratings and all(r is True for r in ratings):
            outputs = (root.outputs if root is not None else None) or {}
            answer = str(outputs.get("answer") or "") if isinstance(outputs, dict) else None
        if not question or not answer:
            skipped += 1
            continue
        record = _record(question, answer, fmt, fields)
        assert check_record(record, fmt, fields) is None  # what the fine-tune reads
        out.append(record)
    return out, skipped


def _record(question: str, answer: str, fmt: str, fields: dict[str, str]) -> dict[str, Any]:
    if fmt == "chat":
        turns = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        return {fields.get("messages", "messages"): turns}
    if fmt == "instruction":
        return {
            fields.get("instruction", "instruction"): question,
            fields.get("output", "output"): answer,
        }
    return {
        fields.get("prompt", "prompt"): question,
        fields.get("completion", "completion"): answer,
    }
