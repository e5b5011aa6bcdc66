"""Human feedback turned into fine-tune records: corrected and up-rated requests in the spec's
dataset format. (Recording feedback on a trace is the runtime's `runtime/feedback.py`, which
the server's `/v1/feedback` route and `llmspec.api.feedback` share.)"""

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
