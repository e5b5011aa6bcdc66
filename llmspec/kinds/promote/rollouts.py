"""A rollout's record: what `apply` starts instead of moving the alias when the spec has a
`serving.rollout` and the alias already names a champion, and what `llmspec rollout` moves on.

The record lives in the promote resource's outputs (`rollout`), with its history of steps and
decisions; the part the app servers need (versions, share, state) is mirrored to the registered
model's route tag (`runtime/routing.py`), which every replica polls. While it runs, the alias
still names the champion; the rollout's completion moves it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from llmspec.integrations.mlflow import Tag
from llmspec.runtime.routing import ROUTE_TAG, RUNNING, Route
from llmspec.state.model import now

ENDED = ("completed", "rolled_back", "aborted", "superseded")


@dataclass(frozen=True)
class Rollout:
    id: str
    strategy: str
    champion: str
    challenger: str
    steps: tuple[int, ...]
    step: int  # index into steps
    state: str  # running | completed | rolled_back | aborted | superseded
    started_at: str
    step_started_at: str
    sticky: str = "user"
    history: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def weight(self) -> int:
        """The challenger's share of traffic now, in percent."""
        if self.state == "completed":
            return 100
        if self.state != RUNNING or self.strategy == "shadow":
            return 0
        if self.strategy == "blue-green":
            return 100
        return self.steps[self.step]

    @property
    def last_step(self) -> bool:
        """Advancing now would end the rollout (the challenger would take all traffic)."""
        if self.strategy != "canary":
            return True
        return self.step + 1 >= len(self.steps) or self.steps[self.step + 1] == 100

    def route(self) -> Route:
        return Route(
            self.id,
            self.strategy,
            self.champion,
            self.challenger,
            self.weight,
            self.state,
            self.sticky,
        )

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["steps"], out["history"] = list(self.steps), [dict(h) for h in self.history]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rollout:
        values = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        values["steps"] = tuple(int(s) for s in data["steps"])
        values["history"] = tuple(dict(h) for h in data.get("history", ()))
        return cls(**values)

    def moved(
        self, action: str, reason: str, figures: list[dict[str, Any]] | None = None, **changes: Any
    ) -> Rollout:
        """This rollout after ``action``, which its history records with the figures read."""
        at = now()
        after = replace(self, **changes)
        if after.step != self.step:
            after = replace(after, step_started_at=at)
        entry: dict[str, Any] = {"at": at, "action": action, "reason": reason}
        entry |= {"weight": after.weight, **({"figures": figures} if figures else {})}
        return replace(after, history=(*self.history, entry))


def start(
    client: Any, name: str, alias: str, champion: str, challenger: str, config: Mapping[str, Any]
) -> Rollout:
    """A new rollout of ``challenger`` beside ``champion``: the route written, both versions
    tagged. A rollout still running is superseded by it (its challenger tagged so)."""
    earlier = Route.from_tag(client.get_registered_model(name).tags.get(ROUTE_TAG.format(alias)))
    if earlier is not None and earlier.state == RUNNING and earlier.challenger != challenger:
        client.set_model_version_tag(
            name, earlier.challenger, Tag.ROLLOUT_ENDED, f"superseded by version {challenger}"
        )
    at = now()
    strategy = str(config["strategy"])
    rollout = Rollout(
        id=f"{alias}-{challenger}-{uuid.uuid4().hex[:8]}",
        strategy=strategy,
        champion=champion,
        challenger=challenger,
        steps=tuple(int(s) for s in config["steps"]) if strategy == "canary" else (100,),
        step=0,
        state=RUNNING,
        started_at=at,
        step_started_at=at,
        sticky=str(config.get("sticky", "user")),
    )
    rollout = replace(rollout, history=()).moved("start", "passed its gates")
    publish(client, name, alias, rollout)
    client.set_model_version_tag(name, challenger, Tag.ROLLOUT.format(alias), rollout.id)
    return rollout


def publish(client: Any, name: str, alias: str, rollout: Rollout) -> None:
    """Write the route every app server of the alias follows."""
    client.set_registered_model_tag(name, ROUTE_TAG.format(alias), rollout.route().to_tag())
