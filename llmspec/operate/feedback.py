"""Human feedback: recorded on a served request's trace (`give_feedback`, through the runtime's
`runtime/feedback.py`, which the server's `/v1/feedback` route shares), and turned into fine-tune
records: corrected and up-rated requests in the spec's dataset format."""

from __future__ import annotations

from typing import Any


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


def give_feedback(
    trace_id: str,
    rating: str | None,
    comment: str | None,
    correction: str | None,
    user: str | None,
    tracking: str | None,
) -> list[str]:
    """Attach the feedback to the trace in the tracking server ``tracking`` chooses, as every
    command chooses it (core.tracking), the repository's local store last."""
    from pathlib import Path

    from llmspec.checks.context import repository_root
    from llmspec.core.diagnostics import SpecError, error
    from llmspec.core.tracking import choose_tracking
    from llmspec.integrations.mlflow import quiet_mlflow, tracking_uri
    from llmspec.runtime.feedback import FeedbackError, record_feedback
    from llmspec.state.model import current_user

    quiet_mlflow()
    import mlflow

    chosen = choose_tracking(None, None, tracking).uri
    mlflow.set_tracking_uri(tracking_uri(chosen, repository_root(Path.cwd())))
    try:
        return record_feedback(trace_id, rating, comment, correction, user or current_user())
    except FeedbackError as exc:  # an unknown trace, or no feedback given
        raise SpecError([error("LS830", str(exc), hint=exc.hint)]) from None
