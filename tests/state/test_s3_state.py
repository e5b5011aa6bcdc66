"""What only the S3 backend does (the shared contract is in test_backends.py): a write whose
read went stale is refused rather than lost, and an unreachable store is LS607."""

from __future__ import annotations

import uuid

import pytest

from llmspec.state.backend import StateUnavailable
from llmspec.state.model import JournalEntry, ResourceState
from llmspec.state.s3 import S3State, StateConflict
from tests.team.servers import S3, free_port


def _resource(address: str) -> ResourceState:
    return ResourceState(address, "index", "sha256:" + "0" * 64, "complete", {}, {}, {}, {})


@pytest.fixture
def state(s3: S3, monkeypatch: pytest.MonkeyPatch) -> S3State:
    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    return S3State(f"s3://{s3.bucket}/s3-state-{uuid.uuid4().hex[:8]}")


def test_a_write_from_a_stale_read_is_refused(state: S3State, monkeypatch) -> None:
    state.put_resource("app", "dev", _resource("index.a"))
    key = state._key("app", "dev", "state.json")
    stale = state._get(key)
    state.put_resource("app", "dev", _resource("index.b"))  # another writer, lock broken
    real_get = state._get
    monkeypatch.setattr(state, "_get", lambda k: stale if k == key else real_get(k))
    with pytest.raises(StateConflict) as raised:
        state.put_resource("app", "dev", _resource("index.c"))
    assert "nothing was overwritten" in str(raised.value.diagnostics[0].message)
    monkeypatch.undo()
    assert set(state.read("app", "dev").resources) == {"index.a", "index.b"}


def test_journal_entries_are_objects_of_their_own(state: S3State, s3: S3) -> None:
    for event in ("apply-started", "apply-finished"):
        state.append_journal(JournalEntry(event, "app", "dev"))
    assert [e.event for e in state.journal("app", "dev")] == ["apply-started", "apply-finished"]
    assert len(s3.keys(f"{state.prefix}/app/dev/journal/")) == 2


def test_an_unreachable_store_is_ls607(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(StateUnavailable) as raised:
        S3State("s3://team/x").read("app", "dev")
    assert raised.value.diagnostics[0].code == "LS607"
    with pytest.raises(StateUnavailable):
        S3State("gs://team/x")
