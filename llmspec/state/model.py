"""What State holds: per app and environment, each built resource and a journal of applies."""

from __future__ import annotations

import getpass
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Self

STATE_FORMAT_VERSION = 1


def now() -> str:
    """UTC timestamp in ISO 8601, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def current_user() -> str:
    """Who is acting, as the journal records it: LLMSPEC_USER where set (a CI job names the
    person it acts for), else the login name."""
    if os.environ.get("LLMSPEC_USER"):
        return os.environ["LLMSPEC_USER"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return os.environ.get("USER", "unknown")


@dataclass(frozen=True)
class ResourceState:
    """One resource as last built: enough to plan against it and to explain a change."""

    address: str
    kind: str
    inputs_digest: str
    status: str  # "complete" or "failed"
    outputs: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # canonical config slice
    files: dict[str, str] = field(default_factory=dict)  # path -> content digest
    deps: dict[str, str] = field(default_factory=dict)  # address -> inputs digest
    updated_at: str = ""
    env_built: str = ""  # the environment that built the outputs (differs when reused)
    marked: dict[str, Any] = field(default_factory=dict)  # marked for rebuild: why, by, when
    # addresses that had to run first without their outputs being used (a deployment after its
    # promotion): not digested, kept so that deletes can run dependents first
    after: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.after:
            data["after"] = list(self.after)
        else:  # written only when there are some: older state files read and write unchanged
            del data["after"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceState:
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        after = fields.pop("after", None)
        return cls(**fields, after=_addresses(after))

    @property
    def needs(self) -> tuple[str, ...]:
        """Every address this resource was built after: its dependencies, then ``after``."""
        return (*self.deps, *(a for a in self.after if a not in self.deps))


class RecordedOutputs:
    """Base of the typed outputs a step kind records: read back from a record's outputs
    (``from_outputs``, ValueError when what a reader needs is missing) and written as the same
    dict (``to_outputs``), so state's JSON never changes shape."""

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any], address: str = "") -> Self:
        raise NotImplementedError

    @classmethod
    def from_state(cls, state: ResourceState) -> Self:
        return cls.from_outputs(state.outputs, state.address)

    @classmethod
    def from_state_or_none(cls, state: ResourceState | None) -> Self | None:
        """None when there is no record, or it lacks what a reader needs (a failed build, a
        stand-in step, state from another version)."""
        try:
            return None if state is None else cls.from_state(state)
        except (ValueError, TypeError):
            return None

    def to_outputs(self) -> dict[str, Any]:
        raise NotImplementedError


def required_output(outputs: Mapping[str, Any], key: str, address: str = "") -> Any:
    """One output a reader cannot do without; ValueError naming the resource when its record
    lacks it (a failed build, a stand-in step, state from another version)."""
    if key not in outputs:
        raise ValueError(f"`{address or 'the resource'}` recorded no `{key}` output")
    return outputs[key]


def _addresses(value: Any) -> tuple[str, ...]:
    """A recorded list of addresses; anything else (absent, hand-edited) as none."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(str(a) for a in value if isinstance(a, str))


@dataclass(frozen=True)
class AppState:
    """Everything recorded for one app in one environment. ``serial`` grows with every write."""

    app: str
    env: str
    serial: int = 0
    resources: dict[str, ResourceState] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": STATE_FORMAT_VERSION,
            "app": self.app,
            "env": self.env,
            "serial": self.serial,
            "resources": {a: r.to_json() for a, r in sorted(self.resources.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AppState:
        return cls(
            data["app"],
            data["env"],
            int(data.get("serial", 0)),
            {a: ResourceState.from_json(r) for a, r in data.get("resources", {}).items()},
        )


@dataclass(frozen=True)
class JournalEntry:
    """One line of the append-only journal: an apply started or ended, a lock was broken…"""

    event: str  # "apply-started", "apply-finished", "destroy-finished", "unlock", ...
    app: str
    env: str
    at: str = field(default_factory=now)
    who: str = field(default_factory=current_user)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    git_commit: str | None = None
    plan_digest: str | None = None
    result: str | None = None  # "ok", "failed", "interrupted"
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JournalEntry:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class LockInfo:
    """Who holds the apply lock of an app+env."""

    app: str
    env: str
    operation: str  # "apply", "destroy"
    who: str = field(default_factory=current_user)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    since: str = field(default_factory=now)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LockInfo:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def holder_alive(self) -> bool | None:
        """Whether the holding process still runs: known only on the same host (else None)."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def describe(self) -> str:
        alive = self.holder_alive()
        state = {True: "running", False: "no longer running", None: "on another host"}[alive]
        where = f"pid {self.pid} on {self.host}, {state}"
        return f"{self.operation} by {self.who} ({where}) since {self.since}"
