"""What the app server counts, in Prometheus' format at `GET /metrics` (prometheus-client):
requests and errors by route, latency and time-to-first-token histograms, and tokens in and
out, each labelled with the model version it serves (`LLMSPEC_MODEL_VERSION`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# seconds: an LLM answer takes from tens of milliseconds (a cache, a refusal) to minutes
LATENCY = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)
FIRST_TOKEN = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20)
UNCOUNTED = frozenset({"/metrics", "/ping", "/health"})  # probes would drown the traffic


class ServerMetrics:
    """One registry per app (not the process-wide default: tests start several apps)."""

    def __init__(self, model_version: str) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.version = model_version or "unknown"
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "llmspec_requests",
            "Requests answered, by route and HTTP status.",
            ("model_version", "route", "status"),
            registry=self.registry,
        )
        self.errors = Counter(
            "llmspec_request_errors",
            "Requests that failed (HTTP status 400 and above, or a stream broken off).",
            ("model_version", "route"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "llmspec_request_latency_seconds",
            "Time from the request to the end of its response.",
            ("model_version", "route"),
            buckets=LATENCY,
            registry=self.registry,
        )
        self.first_token = Histogram(
            "llmspec_time_to_first_token_seconds",
            "Time from a streamed request to its first piece of answer.",
            ("model_version",),
            buckets=FIRST_TOKEN,
            registry=self.registry,
        )
        self.tokens = Counter(
            "llmspec_tokens",
            "Tokens read (prompt) and written (completion).",
            ("model_version", "direction"),
            registry=self.registry,
        )

    def request(self, route: str, status: int, seconds: float) -> None:
        if route in UNCOUNTED:
            return
        self.requests.labels(self.version, route, str(status)).inc()
        self.latency.labels(self.version, route).observe(seconds)
        if status >= 400:
            self.errors.labels(self.version, route).inc()

    def broken_stream(self, route: str) -> None:
        self.errors.labels(self.version, route).inc()

    def answered(self, out: Mapping[str, Any], streamed: bool) -> None:
        """Called by the model for each answer, whichever route asked."""
        self.tokens.labels(self.version, "prompt").inc(int(out.get("tokens_in") or 0))
        self.tokens.labels(self.version, "completion").inc(int(out.get("tokens_out") or 0))
        if streamed:
            self.first_token.labels(self.version).observe(float(out["ttft_ms"]) / 1000)

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
