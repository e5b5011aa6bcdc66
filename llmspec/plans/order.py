"""The order deletes run in: dependents first, from the dependency edges state recorded.

A resource to delete may no longer be in the spec (a removed serving target), so its edges
come from its last record: ``deps`` (whose outputs it used) and ``after`` (what had to run
first). Ranking by the order step kinds were registered would delete a plug-in kind that a
built-in depends on before the built-in; the recorded edges know better.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from llmspec.plans.planner import Change
from llmspec.state.model import ResourceState

__all__ = ["deletion_order"]


def deletion_order(
    changes: Iterable[Change],
    recorded: Mapping[str, ResourceState],
    edges: Mapping[str, Iterable[str]] | None = None,
) -> list[Change]:
    """The deletes among ``changes``, each before the deletes of everything it needs.

    What a resource needs is read from ``recorded`` (its record's ``deps`` and ``after``),
    joined with ``edges`` where given (address -> addresses it needs: the current graph's, for
    state written before ``after`` was recorded). Among deletes free to go, the smallest
    address goes first, so the order is the same on every run. Edges that form a cycle (a
    hand-edited state) cannot be honoured: those deletes come last, by address.
    """
    deletes = {c.address: c for c in changes if c.action == "delete"}
    needs: dict[str, set[str]] = {}
    for address in deletes:
        state = recorded.get(address)
        wanted = set(state.needs if state is not None else ())
        wanted.update((edges or {}).get(address, ()))
        needs[address] = {d for d in wanted if d in deletes and d != address}
    dependents = dict.fromkeys(deletes, 0)  # deletes not yet ordered that need each one
    for wanted in needs.values():
        for dep in wanted:
            dependents[dep] += 1
    ready = [a for a, count in dependents.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        address = heapq.heappop(ready)
        order.append(address)
        for dep in needs[address]:
            dependents[dep] -= 1
            if dependents[dep] == 0:
                heapq.heappush(ready, dep)
    placed = set(order)
    order += sorted(a for a in deletes if a not in placed)
    return [deletes[a] for a in order]
