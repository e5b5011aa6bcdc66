"""Saved plans: `llmspec plan --out FILE` writes the plan with what it was made from (spec,
--set overrides, -e), so `llmspec approve FILE` and `llmspec apply FILE` rebuild the same plan and
refuse one that no longer holds."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from llmspec.core.diagnostics import SpecError, error
from llmspec.plans.planner import Plan


@dataclass(frozen=True)
class SavedPlan:
    path: str
    data: dict[str, Any]  # the plan's JSON plus spec, overrides and env_option

    @property
    def spec(self) -> str:
        return str(self.data["spec"])

    @property
    def env_option(self) -> str | None:
        env = self.data.get("env_option")
        return None if env is None else str(env)

    @property
    def overrides(self) -> list[str]:
        return [str(o) for o in self.data.get("overrides", [])]

    @property
    def targets(self) -> list[str]:
        return [str(t) for t in self.data.get("targets", [])]


def save_plan(
    plan: Plan,
    path: str | os.PathLike[str],
    spec: str | os.PathLike[str],
    env: str | None,
    overrides: list[str] | tuple[str, ...] = (),
) -> None:
    saved = {**plan.to_json(), "spec": str(spec), "overrides": list(overrides), "env_option": env}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(saved, handle, indent=2)
        handle.write("\n")


def read_saved_plan(path: str | os.PathLike[str]) -> SavedPlan:
    """A plan saved by `llmspec plan --out`; LS609 when it cannot be read as one."""
    try:
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
        if not isinstance(saved, dict) or not isinstance(saved["spec"], str):
            raise ValueError("not a saved plan")
        if not isinstance(saved["plan_digest"], str):
            raise ValueError("the plan has no digest")
        return SavedPlan(str(path), saved)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SpecError(
            [
                error(
                    "LS609",
                    f"cannot read the saved plan `{path}`: {exc}",
                    hint="save one with `llmspec plan SPEC -e ENV --out FILE`",
                )
            ]
        ) from None


def check_saved(saved: SavedPlan | None, plan: Plan) -> None:
    """LS604 unless the plan made now is the saved one: same app, environment, state backend
    and digest (what each resource is built from, and the state serial)."""
    if saved is None:
        return
    data = saved.data
    if (data.get("app"), data.get("env")) != (plan.app, plan.env):
        raise SpecError(
            [
                error(
                    "LS604",
                    f"the saved plan is for `{data.get('app')}` in "
                    f"`{data.get('env')}`, not `{plan.app}` in `{plan.env}`",
                )
            ]
        )
    if data.get("state_backend", plan.backend) != plan.backend:
        raise SpecError(
            [
                error(
                    "LS604",
                    f"the saved plan was made against {data.get('state_backend')}, "
                    f"not {plan.backend}",
                    hint="apply with the same --state as the plan",
                )
            ]
        )
    made_for, now = str(data.get("tracking", "")), plan.tracking
    if made_for.split(" (from ")[0] != now.split(" (from ")[0]:
        raise SpecError(
            [
                error(
                    "LS604",
                    f"the saved plan was made for tracking server {made_for or '(unrecorded)'}, "
                    f"this apply would use {now}",
                    hint="apply with the same --tracking-uri / MLFLOW_TRACKING_URI as the plan",
                )
            ]
        )
    if data.get("plan_digest") != plan.digest:
        why = (
            "state changed since the plan was made"
            if data.get("state_serial") != plan.state_serial
            else "the spec or its input files changed"
        )
        raise SpecError(
            [
                error(
                    "LS604",
                    f"the saved plan is stale: {why}",
                    hint="run `llmspec plan --out FILE` again and review it",
                )
            ]
        )
