"""The Python API is the CLI's twin: the same operations in process, typed results, progress
through a hook, SpecError with diagnostics, and nothing printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import llmspec
from llmspec import api
from llmspec.engine.apply import ApplyResult, Outcome
from llmspec.engine.hooks import Hook
from llmspec.plans.planner import Change
from tests.engine.conftest import SPEC


class Recorder(Hook):
    def __init__(self) -> None:
        self.events: list[str] = []

    def started(self, change: Change) -> None:
        self.events.append(f"start {change.address}")

    def finished(self, outcome: Outcome) -> None:
        self.events.append(f"{outcome.status} {outcome.address}")


@pytest.fixture
def repo(project: Path, fake_steps: None) -> Path:
    return project


def test_plan_apply_destroy_in_process_print_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = api.plan(SPEC, "dev")
    assert plan.has_changes and plan.count("create") == 12
    hook = Recorder()
    result = api.apply(SPEC, "dev", hook=hook)
    assert isinstance(result, ApplyResult) and result.ok
    assert [o.status for o in result.outcomes] == ["done"] * 12
    assert hook.events[:2] == ["start dataset.train", "done dataset.train"]
    assert len(hook.events) == 24
    assert not api.plan(SPEC, "dev").has_changes
    assert not api.apply(SPEC, "dev").plan.has_changes
    state = api.state_show(api.open_workspace(SPEC, "dev"))
    assert state.serial > 0 and len(state.resources) == 12
    gone = api.destroy(SPEC, "dev", confirmed=api.destroy_plan(SPEC, "dev"))
    assert gone.ok and {o.status for o in gone.outcomes} <= {"deleted", "kept"}
    assert capsys.readouterr() == ("", "")  # the API speaks through its results and hooks


def test_the_package_exports_the_api(repo: Path) -> None:
    import llmspec.plans.planner  # no room is named like an API function: none shadows one

    assert llmspec.plan is api.plan and llmspec.apply is api.apply
    assert llmspec.explain is api.explain and llmspec.audit is api.audit
    public = {n for n in vars(api) if not n.startswith("_") and callable(getattr(api, n))}
    ours = (api.__name__, f"{api.__name__}.delivery")  # the API and its online-loop part
    functions = {n for n in public if n[0].islower() and getattr(api, n).__module__ in ours}
    assert functions | {"load", "resolve", "validate"} == set(llmspec._API)


def test_user_errors_are_spec_errors_with_codes(repo: Path) -> None:
    with pytest.raises(llmspec.SpecError) as unknown:
        api.plan(SPEC, "dev", targets=["index.nope"])
    assert [d.code for d in unknown.value.diagnostics] == ["LS471"]
    with pytest.raises(llmspec.SpecError) as missing_env:
        api.plan(SPEC, "qa")
    assert missing_env.value.diagnostics[0].code == "LS306"
    with pytest.raises(llmspec.SpecError) as no_plan:
        api.apply("nothing.json")
    assert no_plan.value.diagnostics[0].code == "LS609"
    with pytest.raises(llmspec.SpecError) as diff_args:
        api.diff(SPEC, env_a="dev")
    assert diff_args.value.diagnostics[0].code == "LS001"


def test_a_saved_plan_is_applied_only_while_it_holds(repo: Path) -> None:
    saved = repo / "plan.json"
    plan = api.plan(SPEC, "dev", targets=["index.help_center"], out=saved)
    assert json.loads(saved.read_text())["plan_digest"] == plan.digest
    api.apply(SPEC, "dev", targets=["dataset.train"])  # state moved on: the plan is stale
    with pytest.raises(llmspec.SpecError) as stale:
        api.apply(saved)
    assert stale.value.diagnostics[0].code == "LS604"
    api.plan(SPEC, "dev", targets=["index.help_center"], out=saved)
    applied = api.apply(saved)
    assert applied.ok and [o.address for o in applied.outcomes] == ["index.help_center"]


def test_promotion_plan_and_diff_agree(repo: Path) -> None:
    promotion = api.plan_promotion(SPEC, "staging", "prod")
    between = api.diff(SPEC, env_a="staging", env_b="prod")
    assert dict((p, (a, b)) for p, a, b in promotion.differences.changes)[
        "serving.registry.alias"
    ] == ("challenger", "champion")
    assert {p for p, _, _ in promotion.differences.changes} == {p for p, _, _ in between.changes}
