"""The API of the online loop: feedback on served requests, its export as fine-tune records and
its harvest as eval records (`llmspec feedback`), and rollouts (`llmspec rollout`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from llmspec.api import ResolvedSpec, open_workspace

if TYPE_CHECKING:
    from llmspec.operate.feedback_export import Export
    from llmspec.operate.harvest import Harvest
    from llmspec.operate.rollout import RolloutReport


def feedback(
    trace_id: str,
    rating: str | None = None,
    comment: str | None = None,
    correction: str | None = None,
    *,
    user: str | None = None,
    tracking_uri: str | None = None,
) -> list[str]:
    """Attach a rating, comment or correction to a served request's MLflow trace; returns
    the assessment ids. The tracking server: ``tracking_uri``, else `MLFLOW_TRACKING_URI`, else
    the repository's local one."""
    from llmspec.operate.feedback import give_feedback

    return give_feedback(trace_id, rating, comment, correction, user, tracking_uri)


def export_feedback(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    output: str | os.PathLike[str],
    since: str = "30d",
    state: str | None = None,
    format: str | None = None,
) -> Export:
    """Corrected and up-rated requests of the window as fine-tune records in ``output``, in
    the fine-tune's dataset format (default) or ``format``; ``preference``: pairs of a better
    and a worse answer to one prompt, each with its trace ids."""
    from llmspec.operate.feedback_export import export_feedback as export
    from llmspec.operate.monitor import window_start_ms

    start = window_start_ms(since)  # LS840 before anything is read
    ws = open_workspace(spec, env, overrides, state=state)
    return export(ws, Path(output), start, format)


def feedback_harvest(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    output: str | os.PathLike[str] | None = None,
    since: str = "7d",
    state: str | None = None,
) -> Harvest:
    """Down-rated, corrected and judge-failed traces of the window as candidate eval records
    (deduplicated, each with a slice and its trace id), written to ``output`` for review."""
    from llmspec.operate.harvest import harvest
    from llmspec.operate.monitor import window_start_ms

    start = window_start_ms(since)  # LS840 before anything is read
    ws = open_workspace(spec, env, overrides, state=state)
    return harvest(ws, None if output is None else Path(output), start)


def rollout_status(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    state: str | None = None,
) -> RolloutReport:
    """The environment's rollout: its step, each guard's figures and confidence sequence, and
    the decision the test would take now (nothing changes)."""
    from llmspec.operate.rollout import status

    return status(open_workspace(spec, env, overrides, state=state))


def rollout_advance(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    force: bool = False,
    state: str | None = None,
) -> RolloutReport:
    """Take the test's decision: the next step (or the promotion), a hold, or a rollback to the
    champion; ``force`` advances a step whatever the figures say (recorded as such)."""
    from llmspec.operate.rollout import advance

    return advance(open_workspace(spec, env, overrides, state=state), force=force)


def rollout_abort(
    spec: str | os.PathLike[str] | ResolvedSpec,
    env: str | None = None,
    overrides: Sequence[str] = (),
    *,
    reason: str = "aborted by hand",
    state: str | None = None,
) -> RolloutReport:
    """Return all traffic to the champion and end the rollout; the challenger is tagged with
    the reason."""
    from llmspec.operate.rollout import abort

    return abort(open_workspace(spec, env, overrides, state=state), reason)
