"""Monitoring figures and alerts, from requests as the server's traces record them."""

from __future__ import annotations

import math

import pytest

from llmspec.monitor import Request, check_alerts, figures, length_psi

EVAL = [
    "How do I reset my password?",
    "Who can change the billing contact?",
    "When are invoices issued?",
    "How many members can a workspace have?",
    "Can I get a refund?",
]


def test_figures_of_requests_and_feedback() -> None:
    requests = [
        Request(True, 100.0, "How do I reset my password?", 40, 5, (True,)),
        Request(True, 300.0, "When are invoices issued?", 50, 7, (False, True)),
        Request(False, 50.0, "Who can change the plan?", 0, 0),
        Request(True, 200.0, "Can I get a refund?", 30, 3),
    ]
    found = figures(requests, EVAL, cost_per_1k=0.5)
    assert found["request_count"] == 4 and found["error_rate"] == 0.25
    assert found["latency_p50_ms"] == 150.0 and found["latency_p99_ms"] == pytest.approx(297.0)
    assert found["feedback_count"] == 3 and found["feedback_positive_rate"] == pytest.approx(2 / 3)
    assert found["tokens_out_mean"] == 5.0
    assert found["cost_usd"] == pytest.approx((40 + 5 + 50 + 7 + 30 + 3) / 1000 * 0.5)
    assert math.isfinite(found["input_drift"])


def test_drift_grows_when_the_questions_change_shape() -> None:
    same = length_psi(EVAL, EVAL)
    longer = length_psi(EVAL, [" ".join(["word"] * 40)] * 10)
    assert same == pytest.approx(0.0) and longer > 0.25


def test_alerts_fire_like_gates_and_no_data_does_not_fire() -> None:
    found = figures([Request(True, 2000.0), Request(True, 100.0)], [], None)
    alerts = [
        {"metric": "latency_p95_ms", "op": "<=", "value": 1500},
        {"metric": "error_rate", "op": "<=", "value": 0.02},
        {"metric": "feedback_positive_rate", "op": ">=", "value": 0.7, "action": "retrain"},
    ]
    latency, errors, feedback = check_alerts(alerts, found)
    assert not latency.passed and latency.value == pytest.approx(1905.0)
    assert errors.passed and errors.value == 0.0
    assert feedback.passed and feedback.value is None and feedback.action == "retrain"
    assert math.isnan(found["feedback_positive_rate"])
