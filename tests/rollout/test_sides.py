"""Which traces each side of a rollout counts: tagged by the app server's router, split by
version where KServe's canary splits, and for blue-green the champion's traces before the
switch. The traces are shaped as MLflow's search returns their info."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from llmspec.kinds.promote.rollouts import Rollout
from llmspec.operate.rollout import sides

STARTED_MS = 1_796_000_000_000  # the rollout's `started_at` below


def rollout(strategy: str) -> Rollout:
    at = "2026-11-30T00:53:20Z"  # = STARTED_MS
    return Rollout("r1", strategy, "1", "2", (10, 100), 0, "running", at, at)


def trace(at: int, ok: bool = True, ms: float = 100.0, **tags: str) -> Any:
    judge = SimpleNamespace(name="helpful", value=0.5, feedback=object(), valid=True)
    rating = SimpleNamespace(name="user_rating", value=True, feedback=object(), valid=True)
    info = SimpleNamespace(
        tags={f"llmspec.{k}": v for k, v in tags.items()},
        timestamp_ms=at,
        state="OK" if ok else "ERROR",
        execution_duration=ms,
        assessments=[judge, rating],
    )
    return SimpleNamespace(info=info)


def test_the_routers_tags_decide_and_other_rollouts_do_not_count() -> None:
    after = STARTED_MS + 1000
    traces = [
        trace(after, rollout="r1", arm="challenger", model_version="bot/2", ms=50),
        trace(after, rollout="r1", arm="champion", model_version="bot/1", ms=150),
        trace(after, ok=False, rollout="r1", arm="champion", model_version="bot/1"),
        trace(after, rollout="r0", arm="challenger", model_version="bot/9"),  # an older one
        trace(STARTED_MS - 1000, model_version="bot/1"),  # before the rollout
    ]
    ours, theirs = sides(traces, "bot", rollout("canary"))
    assert ours["latency_ms"].n == 1 and ours["latency_ms"].mean == 50
    assert theirs["error_rate"].n == 2 and theirs["error_rate"].mean == 0.5
    assert theirs["latency_ms"].n == 1  # a failed request has no latency to compare
    assert ours["helpful"].mean == 0.5 and ours["feedback_positive_rate"].mean == 1.0


def test_kserve_splits_by_version_and_blue_green_reads_the_champion_before() -> None:
    after, before = STARTED_MS + 1000, STARTED_MS - 60_000
    untagged = [trace(after, model_version="bot/2"), trace(after, model_version="bot/1")]
    ours, theirs = sides(untagged, "bot", rollout("canary"))
    assert ours["error_rate"].n == 1 and theirs["error_rate"].n == 1
    switched = [
        trace(after, rollout="r1", arm="challenger", model_version="bot/2"),
        trace(before, model_version="bot/1"),
        trace(before, model_version="bot/1"),
    ]
    ours, theirs = sides(switched, "bot", rollout("blue-green"))
    assert ours["error_rate"].n == 1 and theirs["error_rate"].n == 2
    ours, theirs = sides(switched, "bot", rollout("canary"))
    assert theirs == {}  # a canary compares what ran side by side only
