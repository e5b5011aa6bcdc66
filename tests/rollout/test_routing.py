"""The app server's traffic split: sticky buckets, the share, shadow copies, blue-green, the
end of a rollout, and a challenger that cannot be loaded (the champion goes on answering)."""

from __future__ import annotations

import threading
import time
from typing import Any

from llmspec.runtime.routing import ROUTE_TAG, Route, Router, bucket, caller_key


class Model:
    def __init__(self, version: str) -> None:
        self.version = version
        self.trace_tags: dict[str, str] = {}


def tag(model: Any, version: str, route: Route | None, side: str) -> None:
    model.trace_tags = {"version": version, "side": side}


def router(load: Any = Model) -> Router:
    return Router("bot", "champion", Model("1"), "1", load, tag)


def tags(**route: Any) -> dict[str, str]:
    fields = {"id": "r1", "strategy": "canary", "champion": "1", "challenger": "2"}
    return {ROUTE_TAG.format("champion"): Route(**{**fields, **route}).to_tag()}


def settle(r: Router, version: str) -> None:
    deadline = time.monotonic() + 5
    while version not in r.models:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def side(r: Router, user: str) -> str:
    model, _ = r.pick({"user": user}, {})
    return str(model.version)


def test_a_share_of_users_goes_to_the_challenger_and_stays_there() -> None:
    r = router()
    assert side(r, "u1") == "1"  # no rollout: the champion
    r.refresh(tags(weight=25, state="running"))
    settle(r, "2")
    users = [f"user-{i}" for i in range(4000)]
    first = {u: side(r, u) for u in users}
    share = sum(v == "2" for v in first.values()) / len(users)
    assert 0.22 < share < 0.28
    assert first == {u: side(r, u) for u in users}  # sticky
    r.refresh(tags(weight=50, state="running"))
    later = {u: side(r, u) for u in users}
    assert all(later[u] == "2" for u in users if first[u] == "2")  # nobody moves back
    assert 0.47 < sum(v == "2" for v in later.values()) / len(users) < 0.53
    assert r.models["2"].trace_tags == {"version": "2", "side": "challenger"}
    assert r.models["1"].trace_tags == {"version": "1", "side": "champion"}


def test_the_bucket_depends_on_the_rollout_and_the_caller_key_on_stickiness() -> None:
    assert bucket("r1", "a") == bucket("r1", "a") and 0 <= bucket("r1", "a") < 10_000
    assert len({bucket(f"r{i}", "a") for i in range(50)}) > 40
    route = Route("r", "canary", "1", "2", 10, "running", "session")
    assert caller_key(route, {"user": "u"}, {"x-session-id": "s"}) == "s"
    assert caller_key(route, {"user": "u"}, {}) is None
    user = Route("r", "canary", "1", "2", 10, "running", "user")
    assert caller_key(user, {"user": "u"}, {"x-session-id": "s"}) == "u"
    none = Route("r", "canary", "1", "2", 10, "running", "none")
    assert caller_key(none, {"user": "u"}, {"x-session-id": "s"}) is None


def test_shadow_answers_with_the_champion_and_copies_to_the_challenger() -> None:
    r = router()
    r.refresh(tags(strategy="shadow", weight=0, state="running"))
    settle(r, "2")
    answering, shadow = r.pick({"user": "u"}, {})
    assert answering.version == "1" and shadow is not None and shadow.version == "2"


def test_blue_green_sends_everyone_and_a_rollback_returns_everyone() -> None:
    r = router()
    r.refresh(tags(strategy="blue-green", weight=100, state="running"))
    settle(r, "2")
    assert {side(r, f"u{i}") for i in range(200)} == {"2"}
    r.refresh(tags(strategy="blue-green", weight=0, state="rolled_back"))
    assert {side(r, f"u{i}") for i in range(200)} == {"1"}


def test_a_completed_rollout_makes_the_challenger_the_champion() -> None:
    r = router()
    r.refresh(tags(weight=50, state="running"))
    settle(r, "2")
    r.refresh(tags(weight=100, state="completed"))
    assert r.champion == "2" and {side(r, f"u{i}") for i in range(100)} == {"2"}


def test_a_challenger_that_cannot_load_leaves_the_champion_answering() -> None:
    tried = threading.Event()

    def broken(version: str) -> Model:
        tried.set()
        raise OSError("the registry is down")

    r = router(broken)
    r.refresh(tags(weight=50, state="running"))
    assert tried.wait(5)
    time.sleep(0.05)
    assert {side(r, f"u{i}") for i in range(100)} == {"1"}
    assert r.route is None  # the next poll tries again


def test_following_survives_a_registry_that_does_not_answer(monkeypatch: Any) -> None:
    monkeypatch.setenv("LLMSPEC_ROLLOUT_POLL_S", "0.01")
    r = router()
    calls = []

    def read() -> dict[str, str]:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("no answer")
        return tags(weight=100, state="running", strategy="blue-green")

    stop = threading.Event()
    thread = threading.Thread(target=r.follow, args=(read, stop), daemon=True)
    thread.start()
    settle(r, "2")
    stop.set()
    thread.join(5)
    assert len(calls) >= 3 and side(r, "u") == "2"
