"""The app server's traffic split during a rollout: which version answers a request.

The route lives in the model registry, as a tag of the registered model
(`llmspec.rollout.<alias>`: the rollout's id, strategy, champion and challenger versions, the
challenger's share in percent and the rollout's state), written by `llmspec apply` and
`llmspec rollout`. Every app server of the alias polls it, so a step or a rollback reaches all
replicas within a poll (`LLMSPEC_ROLLOUT_POLL_S`, 5 s), with no restart. The challenger's model
is loaded beside the champion's in the background when a rollout starts; until it is, the
champion answers everything.

A caller stays on one side: the request's `user` (OpenAI's field) or `X-Session-Id` header is
hashed with the rollout's id into one of 10,000 buckets, and buckets below the share go to the
challenger, so raising the share only moves callers from the champion to the challenger. With
`shadow`, the champion answers and the challenger answers a copy in the background, unseen.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ROUTE_TAG = "llmspec.rollout.{}"  # alias -> the route, JSON
RUNNING = "running"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    id: str
    strategy: str  # canary | shadow | blue-green
    champion: str
    challenger: str
    weight: int  # the challenger's share, percent
    state: str  # running | completed | rolled_back | aborted
    sticky: str = "user"

    @classmethod
    def from_tag(cls, text: str | None) -> Route | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except (ValueError, TypeError):
            return None

    def to_tag(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


def bucket(rollout: str, key: str) -> int:
    """The caller's bucket in 0..9999 for this rollout."""
    digest = hashlib.sha256(f"{rollout}\0{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 10_000


def caller_key(route: Route, body: Mapping[str, Any], headers: Mapping[str, str]) -> str | None:
    if route.sticky == "user" and body.get("user"):
        return str(body["user"])
    if route.sticky in ("user", "session") and headers.get("x-session-id"):
        return str(headers["x-session-id"])
    return None


class Router:
    """The served versions by name, and the route between them. ``load(version)`` gives the
    app's python model of a version of the registered model."""

    def __init__(
        self,
        name: str,
        alias: str,
        champion: Any,
        version: str,
        load: Callable[[str], Any],
        tag_model: Callable[[Any, str, Route | None, str], None],
    ) -> None:
        self.name, self.alias, self.load, self.tag_model = name, alias, load, tag_model
        self.models: dict[str, Any] = {version: champion}
        self.champion = version
        self.route: Route | None = None
        self.lock = threading.Lock()
        self._loading: set[str] = set()

    def pick(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> tuple[Any, Any]:
        """(the model that answers, a model that answers a shadow copy or None)."""
        route, models = self.route, self.models
        champion = models[self.champion]
        if route is None or route.state != RUNNING or route.challenger not in models:
            return champion, None
        challenger = models[route.challenger]
        if route.strategy == "shadow":
            return champion, challenger
        key = caller_key(route, body, headers)
        drawn = bucket(route.id, key) if key is not None else random.randrange(10_000)
        return (challenger if drawn < route.weight * 100 else champion), None

    def refresh(self, tags: Mapping[str, str]) -> None:
        """Take the registry's route; start loading a challenger it names."""
        route = Route.from_tag(tags.get(ROUTE_TAG.format(self.alias)))
        if route is None or route == self.route:
            return
        if route.state == "completed" and route.challenger in self.models:
            self.champion = route.challenger  # the challenger is the champion now
        for version, side in ((route.champion, "champion"), (route.challenger, "challenger")):
            if version in self.models:
                self.tag_model(self.models[version], version, route, side)
        self.route = route
        wanted = route.challenger if route.state in (RUNNING, "completed") else None
        if wanted and wanted not in self.models and wanted not in self._loading:
            self._loading.add(wanted)
            threading.Thread(target=self._load, args=(wanted,), daemon=True).start()

    def _load(self, version: str) -> None:
        try:
            model = self.load(version)
        except Exception:  # the champion goes on answering; the next poll tries again
            logger.exception("could not load version %s of %s", version, self.name)
            with self.lock:
                self._loading.discard(version)
                self.route = None
            return
        with self.lock:
            self.models = {**self.models, version: model}
            self._loading.discard(version)
            route = self.route
            if route is not None:
                side = "challenger" if version == route.challenger else "champion"
                self.tag_model(model, version, route, side)
                if route.state == "completed" and version == route.challenger:
                    self.champion = version

    def follow(self, read_tags: Callable[[], Mapping[str, str]], stop: threading.Event) -> None:
        """Poll the registry until ``stop``; a failed read keeps the last route."""
        every = float(os.environ.get("LLMSPEC_ROLLOUT_POLL_S", "5"))
        while not stop.is_set():
            try:
                self.refresh(read_tags())
            except Exception:
                logger.warning("could not read the rollout's route of %s", self.name)
            stop.wait(every)
