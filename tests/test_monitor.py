"""Monitoring figures and alerts, from requests as the server's traces record them."""

from __future__ import annotations

import math

import pytest

from llmspec.operate.monitor import Request, check_alerts, figures, length_psi, since, window_ms

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
    latency, errors, feedback = check_alerts(alerts, {"1h": found})
    assert not latency.passed and latency.value == pytest.approx(1905.0)
    assert errors.passed and errors.value == 0.0
    assert feedback.passed and feedback.value is None and feedback.action == "retrain"
    assert math.isnan(found["feedback_positive_rate"])


def test_each_alert_is_held_over_its_own_window() -> None:
    now = 10 * 86_400_000
    requests = [Request(True, 100.0, ratings=(False,), at_ms=now - 3_600_000 * 20)] + [
        Request(True, 100.0, ratings=(True,), at_ms=now - 60_000 * i) for i in range(1, 4)
    ]
    windows = {w: figures(since(requests, now - window_ms(w)), [], None) for w in ("1h", "24h")}
    alert = {"metric": "feedback_positive_rate", "op": ">=", "value": 0.8}
    hour, day = check_alerts([{**alert, "window": "1h"}, {**alert, "window": "24h"}], windows)
    assert hour.passed and hour.value == 1.0 and hour.window == "1h"
    assert not day.passed and day.value == pytest.approx(0.75) and day.window == "24h"


def test_a_window_that_is_not_one_is_ls620() -> None:
    from llmspec.core.diagnostics import SpecError

    assert window_ms("30m") == 1_800_000 and window_ms("7d") == 7 * 86_400_000
    with pytest.raises(SpecError) as bad:
        window_ms("7x")
    assert bad.value.diagnostics[0].code == "LS840"


def test_the_html_report_charts_the_window_and_shows_the_alerts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from llmspec.operate.monitor import AlertResult
    from llmspec.operate.monitor_report import write_report

    requests = [
        Request(i % 7 != 0, 80.0 + i, EVAL[i % 5], 40 + i, 5 + i % 3, (i % 2 == 0,), i * 60_000)
        for i in range(50)
    ]
    found = figures(requests, EVAL, 0.5)
    alerts = [
        AlertResult("feedback_positive_rate >= 0.7", 0.5, False, "retrain", "24h"),
        AlertResult("latency_p95_ms <= 1500", 120.0, True, "notify", "1h"),
    ]
    out = tmp_path / "reports" / "monitor.html"
    write_report(out, "support-bot", "prod", "24h", requests, EVAL, found.values, alerts,
                 ["finetune.support-bot"])  # fmt: skip
    page = out.read_text()
    assert page.count("<svg") == 5  # traffic, latency, lengths, feedback, question length
    assert "FIRING" in page and "feedback_positive_rate &gt;= 0.7" in page
    assert "Marked for retraining: finetune.support-bot" in page
    assert "request_count" in page and "input_drift" in page
    assert list(out.parent.iterdir()) == [out]  # written whole, no temporary left

    empty = tmp_path / "empty.html"
    write_report(empty, "support-bot", "prod", "1h", [], EVAL, {"request_count": 0.0}, [], [])
    assert "No requests in the window" in empty.read_text() and "<svg" not in empty.read_text()
