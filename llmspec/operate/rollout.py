"""`llmspec rollout status | advance | abort`: read a running rollout's traces, score them
with the online judges, put the sequential test to them (`operate/sequential.py`) and act.

Each side's sample is its traces since the rollout began, told apart by the tags the app server
writes (`llmspec.rollout`, `llmspec.arm`), or by the version that answered where KServe's canary
splits the traffic; for `blue-green`, where the challenger takes every
request, the champion's are its traces over the `hold` before the switch. The decision moves
the rollout: the next step, the completion (the alias moves to the challenger), or a rollback
(all traffic back to the champion, the challenger tagged with the reason and figures). Each
move is written to state and the journal under the apply lock, published to the app servers
through the registry, and sent to the spec's webhooks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from llmspec.core.diagnostics import Diagnostic, SpecError, error
from llmspec.engine.locking import holding
from llmspec.engine.workspace import Workspace
from llmspec.integrations.mlflow import Tag
from llmspec.kinds.promote.outputs import PromoteOutputs
from llmspec.kinds.promote.promoted import promoted_state
from llmspec.kinds.promote.rollouts import Rollout, publish
from llmspec.operate.monitor import window_ms
from llmspec.operate.sequential import Decision, Guard, Interval, Moments, decide
from llmspec.runtime.routing import RUNNING
from llmspec.spec.rollout import LOWER_IS_BETTER
from llmspec.state.model import JournalEntry

# figures in [0, 1]: rates and judge scores (latency is the one that is not)
UNBOUNDED = frozenset({"latency_ms"})


@dataclass(frozen=True)
class RolloutReport:
    app: str
    env: str
    registered_name: str
    alias: str
    rollout: Rollout
    decision: Decision | None  # None once the rollout has ended
    taken: str | None = None  # what advance/abort did: advance, complete, rollback, abort, hold
    judged: dict[str, int] = field(default_factory=dict)  # metric -> traces scored on this look
    seconds: float = 0.0  # how long the look took
    notes: list[Diagnostic] = field(default_factory=list)

    @property
    def figures(self) -> list[dict[str, Any]]:
        """Each guard at this look, as the journal and the registry keep it."""
        return [figure(i) for i in self.decision.intervals] if self.decision else []


def status(ws: Workspace) -> RolloutReport:
    """The rollout and the decision the test would take now; nothing moves."""
    started = time.perf_counter()
    promoted, rollout = _current(ws)
    if rollout.state != RUNNING:
        return _report(ws, promoted, rollout, None, started)
    decision, judged = _look(ws, promoted, rollout)
    write_canary(ws, rollout)
    return _report(ws, promoted, rollout, decision, started, judged=judged)


def advance(ws: Workspace, *, force: bool = False) -> RolloutReport:
    """Take the test's decision (``force``: the next step whatever it says)."""
    started = time.perf_counter()
    with holding(ws, "rollout", 0.0):
        promoted, rollout = _current(ws, running=True)
        decision, judged = _look(ws, promoted, rollout)
        action = decision.action
        if force and action in ("hold", "rollback"):
            why = f"forced by hand ({decision.reason})"
            action = "complete" if rollout.last_step else "advance"
            decision = replace(decision, action=action, reason=why)
        if action == "hold":
            return _report(ws, promoted, rollout, decision, started, "hold", judged)
        figures = [figure(i) for i in decision.intervals]
        if action == "advance":
            moved = rollout.moved("advance", decision.reason, figures, step=rollout.step + 1)
        elif action == "complete":
            moved = rollout.moved("complete", decision.reason, figures, state="completed")
        else:
            moved = rollout.moved("rollback", decision.reason, figures, state="rolled_back")
        notes = _apply(ws, promoted, moved, figures)
    return _report(ws, promoted, moved, decision, started, action, judged, notes)


def abort(ws: Workspace, reason: str) -> RolloutReport:
    """All traffic back to the champion; the rollout ends, the challenger tagged why."""
    started = time.perf_counter()
    with holding(ws, "rollout", 0.0):
        promoted, rollout = _current(ws, running=True)
        moved = rollout.moved("abort", reason, state="aborted")
        notes = _apply(ws, promoted, moved, [])
    return _report(ws, promoted, moved, None, started, "abort", notes=notes)


def announce(ws: Workspace, outcomes: Sequence[Any]) -> None:
    """After an apply: when its promotion started a rollout, journal it and notify; what could
    not be delivered is a note on the promotion's outcome."""
    done = {o.address: o for o in outcomes if o.status == "done"}
    state = promoted_state(ws)
    if state is None or state.address not in done:
        return
    promoted = PromoteOutputs.from_state_or_none(state)
    if promoted is None or promoted.rollout is None:
        return
    rollout = Rollout.from_json(promoted.rollout)
    if rollout.state != RUNNING or len(rollout.history) != 1:
        return
    start = rollout.history[0]
    detail: dict[str, Any] = {"rollout": rollout.id, "alias": promoted.alias, **start}
    detail |= {"champion": rollout.champion, "challenger": rollout.challenger}
    ws.backend.append_journal(
        JournalEntry("rollout-start", ws.app, ws.env, result="ok", detail=detail)
    )
    done[state.address].diagnostics.extend(_notify(ws, rollout, start))


def _current(ws: Workspace, running: bool = False) -> tuple[PromoteOutputs, Rollout]:
    state = promoted_state(ws)
    promoted = PromoteOutputs.from_state_or_none(state)
    if promoted is None or promoted.rollout is None:
        raise SpecError(
            [
                error(
                    "LS870",
                    f"`{ws.app}` has no rollout in `{ws.env}`",
                    hint="a rollout starts when apply promotes a new version under a "
                    "`serving.rollout`, while the alias already names a champion",
                )
            ]
        )
    rollout = Rollout.from_json(promoted.rollout)
    if running and rollout.state != RUNNING:
        raise SpecError(
            [
                error(
                    "LS870",
                    f"the rollout of version {rollout.challenger} has ended ({rollout.state})",
                    hint="the next apply that promotes a new version starts another",
                )
            ]
        )
    return promoted, rollout


def _look(
    ws: Workspace, promoted: PromoteOutputs, rollout: Rollout
) -> tuple[Decision, dict[str, int]]:
    """Score the new traces with the online judges, read both sides, decide."""
    from llmspec.operate.online_judges import judge_traces

    config = ws.resolved.spec.serving.rollout
    if config is None:
        raise SpecError(
            [
                error(
                    "LS870",
                    "the spec has no `serving.rollout` any more: its guards decide the rollout",
                    hint="put it back, or end the rollout with `llmspec rollout abort`",
                )
            ]
        )
    hold_ms = window_ms(config.hold)
    since = _ms(rollout.started_at) - (hold_ms if rollout.strategy == "blue-green" else 0)
    traces = _traces(ws, promoted, since)
    judged = judge_traces(ws, traces, promoted.tracking_uri).scored
    if judged:
        traces = _traces(ws, promoted, since)  # with the scores just written
    challenger, champion = sides(traces, promoted.registered_name, rollout)
    guards = [
        Guard(g.metric, g.margin, g.metric in LOWER_IS_BETTER, g.metric not in UNBOUNDED)
        for g in config.guards
    ]
    held = time.time() * 1000 - _ms(rollout.step_started_at) >= hold_ms
    decision = decide(
        guards,
        challenger,
        champion,
        alpha=config.alpha,
        min_requests=config.min_requests,
        held=held,
        last_step=rollout.last_step,
    )
    return decision, judged


def _traces(ws: Workspace, promoted: PromoteOutputs, since_ms: int) -> list[Any]:
    from llmspec.integrations.mlflow import client_for, experiment_for, search_traces

    try:
        client = client_for(promoted.tracking_uri)
        experiment = experiment_for(client, ws.resolved.spec, ws.app, ws.env, ws.repo_root)
        return search_traces(promoted.tracking_uri, experiment, since_ms - 1, spans=False)
    except Exception as exc:
        raise SpecError(
            [
                error(
                    "LS871",
                    f"cannot read the rollout's traces from {promoted.tracking_uri}: {exc}",
                    hint="the tracking server must be up; nothing was changed",
                )
            ]
        ) from None


def sides(
    traces: Sequence[Any], name: str, rollout: Rollout
) -> tuple[dict[str, Moments], dict[str, Moments]]:
    """(challenger, champion): each figure's moments over each side's traces."""
    from llmspec.operate.online_judges import assessment_values

    started = _ms(rollout.started_at)
    ours: dict[str, Moments] = {}
    theirs: dict[str, Moments] = {}
    for trace in traces:
        tags = trace.info.tags or {}
        version, at = tags.get("llmspec.model_version"), int(trace.info.timestamp_ms or 0)
        arm = tags.get("llmspec.arm") if tags.get("llmspec.rollout") == rollout.id else None
        if "llmspec.rollout" not in tags and at >= started:  # split by KServe: by version
            arm = {f"{name}/{rollout.challenger}": "challenger"}.get(str(version))
            arm = arm or {f"{name}/{rollout.champion}": "champion"}.get(str(version))
        before = (
            rollout.strategy == "blue-green"
            and version == f"{name}/{rollout.champion}"
            and at < started
        )
        if arm == "challenger":
            into = ours
        elif arm == "champion" or before:
            into = theirs
        else:
            continue
        ok = str(getattr(trace.info.state, "value", trace.info.state)) == "OK"
        values: dict[str, list[float]] = {
            "error_rate": [0.0 if ok else 1.0],
            "latency_ms": [float(trace.info.execution_duration or 0)] if ok else [],
            "feedback_positive_rate": [
                float(v) for v in assessment_values(trace, "user_rating") if isinstance(v, bool)
            ],
        }
        scores: dict[str, float] = {}  # one per judge and trace: the latest
        for a in trace.info.assessments or []:
            number = isinstance(a.value, int | float) and not isinstance(a.value, bool)
            if a.name not in values and a.feedback is not None and a.valid is not False and number:
                scores[a.name] = float(a.value)
        values |= {name: [score] for name, score in scores.items()}
        for metric, found in values.items():
            for value in found:
                into[metric] = into.get(metric, Moments()).add(value)
    return ours, theirs


def _apply(
    ws: Workspace, promoted: PromoteOutputs, rollout: Rollout, figures: list[dict[str, Any]]
) -> list[Diagnostic]:
    """Publish the moved rollout, write it to state and the journal, notify."""
    from llmspec.integrations.mlflow import client_for

    client = client_for(promoted.tracking_uri)
    name, alias = promoted.registered_name, promoted.alias
    last = rollout.history[-1]
    outputs = replace(promoted, rollout=rollout.to_json())
    if rollout.state == "completed":
        client.set_registered_model_alias(name, alias, rollout.challenger)
        client.set_model_version_tag(name, rollout.challenger, Tag.PROMOTED.format(alias), ws.env)
        outputs = replace(outputs, version=rollout.challenger, previous=rollout.champion)
        from llmspec.kinds.package.prompts import follow_promotion

        follow_promotion(promoted.tracking_uri, name, rollout.challenger, alias)
    if rollout.state in ("rolled_back", "aborted"):
        client.set_model_version_tag(name, rollout.challenger, Tag.REJECTED, "true")
        client.set_model_version_tag(
            name, rollout.challenger, Tag.REJECTED_REASONS, str(last["reason"])[:5000]
        )
    if rollout.state != RUNNING:
        ended = {"state": rollout.state, "reason": last["reason"], "figures": figures}
        client.set_model_version_tag(
            name, rollout.challenger, Tag.ROLLOUT_ENDED, json.dumps(ended)[:5000]
        )
    publish(client, name, alias, rollout)
    write_canary(ws, rollout)
    state = promoted_state(ws)
    assert state is not None
    ws.backend.put_resource(ws.app, ws.env, replace(state, outputs=outputs.to_outputs()))
    detail: dict[str, Any] = {"rollout": rollout.id, "alias": alias}
    detail["champion"] = rollout.champion
    detail |= {"challenger": rollout.challenger, "weight": rollout.weight, **last}
    ws.backend.append_journal(
        JournalEntry(f"rollout-{last['action']}", ws.app, ws.env, result="ok", detail=detail)
    )
    return _notify(ws, rollout, last)


def write_canary(ws: Workspace, rollout: Rollout) -> list[str]:
    """For KServe targets whose canary splits the traffic (`traffic: kserve`): the
    InferenceService of the rollout's state, under the build folder, for CD to apply: the
    challenger's version with its share while it runs, all traffic once it completes, none
    after a rollback (KServe's own rollback: `canaryTrafficPercent: 0`)."""
    targets = ws.resolved.spec.serving.targets
    if not any(getattr(t, "traffic", "app") == "kserve" for t in targets):
        return []  # the app servers split: nothing to render (and no graph to build)
    from llmspec.kinds.deploy.step import render_target

    written = []
    for resource in ws.graph().resources.values():
        if resource.kind != "deploy" or resource.config.get("traffic") != "kserve":
            continue
        canary = None if rollout.state == "completed" else rollout.weight
        for relative, text in render_target(resource, rollout.challenger, canary).items():
            path = ws.build_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.tmp")
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(path)
            written.append(str(path))
    return written


def _notify(ws: Workspace, rollout: Rollout, last: Mapping[str, Any]) -> list[Diagnostic]:
    from llmspec.operate.notify import Event, notify

    action = str(last["action"])
    level = "danger" if action in ("rollback", "abort") else "info"
    verb = {
        "start": f"started: {rollout.weight}% of traffic ({rollout.strategy})",
        "advance": f"advanced to {rollout.weight}% of traffic",
        "complete": "completed: it is the champion now",
        "rollback": f"rolled back: all traffic is on version {rollout.champion}",
        "abort": f"aborted: all traffic is on version {rollout.champion}",
    }.get(action, action)
    fields = {"champion": rollout.champion, "challenger": rollout.challenger}
    fields |= {"strategy": rollout.strategy, "share": f"{rollout.weight}%"}
    for f in last.get("figures") or []:
        fields[str(f["metric"])] = (
            f"{f['challenger']:.4g} vs {f['champion']:.4g} (difference in "
            f"[{f['interval'][0]:.4g}, {f['interval'][1]:.4g}])"
        )
    event = Event(
        "rollout",
        f"rollout of version {rollout.challenger} {verb}",
        str(last["reason"]),
        fields,
        level,  # type: ignore[arg-type]
    )
    return notify(ws, event)


def figure(i: Interval) -> dict[str, Any]:
    return {
        "metric": i.metric,
        "challenger": round(i.challenger.mean, 6),
        "champion": round(i.champion.mean, 6),
        "requests": [i.challenger.n, i.champion.n],
        "difference": round(i.difference, 6),
        "interval": [round(i.lower, 6), round(i.upper, 6)],
        "margin": i.margin,
    }


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def _report(
    ws: Workspace,
    promoted: PromoteOutputs,
    rollout: Rollout,
    decision: Decision | None,
    started: float,
    taken: str | None = None,
    judged: dict[str, int] | None = None,
    notes: list[Diagnostic] | None = None,
) -> RolloutReport:
    return RolloutReport(
        ws.app,
        ws.env,
        promoted.registered_name,
        promoted.alias,
        rollout,
        decision,
        taken,
        judged or {},
        time.perf_counter() - started,
        notes or [],
    )
