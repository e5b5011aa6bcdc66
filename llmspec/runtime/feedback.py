"""Human feedback on a served request: a rating, a comment and a correction attached to the
request's MLflow trace as assessments (MLflow's feedback API). The model server's
`/v1/feedback` route and `llmspec feedback` (through `operate/feedback.py`) both record it here.
"""

from __future__ import annotations

from typing import Any

RATINGS = ("up", "down")


class FeedbackError(Exception):
    """Feedback that cannot be recorded: empty, a rating that is none of RATINGS, or a trace
    the tracking store does not hold (``missing_trace``)."""

    def __init__(self, message: str, hint: str | None = None, *, missing_trace: bool = False):
        self.hint = hint
        self.missing_trace = missing_trace
        super().__init__(message)


def record_feedback(
    trace_id: str,
    rating: str | None = None,
    comment: str | None = None,
    correction: str | None = None,
    user: str = "anonymous",
    wait_s: float = 5.0,
) -> list[str]:
    """Attach the feedback to the trace (MLflow's tracking URI must point at its store); the
    assessment ids. A server writes its traces in the background: a trace not there yet is
    waited for, ``wait_s`` at most."""
    if rating is None and correction is None and not comment:
        raise FeedbackError("give a --rating, a --comment or a --correction")
    if rating is not None and rating not in RATINGS:
        raise FeedbackError(f"rating `{rating}` is not one of: up, down")
    import mlflow
    from mlflow.entities import AssessmentSource, AssessmentSourceType

    found = _trace(mlflow, trace_id, wait_s)
    if found is None:
        raise FeedbackError(
            f"no trace `{trace_id}` in {mlflow.get_tracking_uri()}",
            "the id comes from the server's response (`trace_id`); check "
            "MLFLOW_TRACKING_URI or --tracking-uri",
            missing_trace=True,
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


def _trace(mlflow: Any, trace_id: str, wait_s: float) -> Any:
    import time

    deadline = time.monotonic() + wait_s
    while True:
        try:
            found = mlflow.get_trace(trace_id)
        except Exception:  # MLflow's not-found differs by store: an error or None
            found = None
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)
