"""A retraining mark (what a firing `action: retrain` alert leaves): the next plan rebuilds the
fine-tune from the same inputs and updates what depends on it; the apply that rebuilds it clears
the mark; `state unmark` clears a false alarm. The plan's engine is real, the steps are fakes."""

from __future__ import annotations

import json
from pathlib import Path

from llmspec.api import resolve
from llmspec.engine.marks import mark
from llmspec.engine.workspace import open_workspace
from tests.engine.conftest import SPEC, runs
from tests.engine.test_apply_cycle import changed, plan_json

WHY = "feedback_positive_rate >= 0.7 failed over 24h (0.5)"


def mark_dev(project: Path) -> list[str]:
    return mark(open_workspace(resolve(str(project / SPEC), "dev")), WHY)


def test_a_marked_finetune_is_rebuilt_with_its_dependents(cli, project: Path) -> None:
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    assert mark_dev(project) == ["finetune.support-bot"]
    assert mark_dev(project) == ["finetune.support-bot"]  # marking twice keeps the first note
    plan = plan_json(cli)
    assert changed(plan) == {
        "finetune.support-bot": "replace",
        "package.support-bot": "update",
        "eval.support-bot": "update",
        "promote.support-bot@dev": "update",
    }
    finetune = next(c for c in plan["changes"] if c["address"] == "finetune.support-bot")
    assert finetune["reasons"][0]["code"] == "marked" and finetune["reasons"][0]["what"] == WHY
    text = cli("plan", SPEC, "-e", "dev").stdout
    assert "marked for rebuilding by monitor at " in text and WHY in text
    assert "upstream finetune.support-bot is rebuilt" in text
    shown = cli("state", "show", SPEC, "-e", "dev").stdout
    assert "marked for rebuilding by monitor" in shown

    before = runs(project)
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    ran = runs(project)[len(before) :]
    assert "start finetune.support-bot" in ran and "start index.help_center" not in ran
    again = cli("plan", SPEC, "-e", "dev", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout  # the rebuild cleared the mark
    journal = cli("state", "show", SPEC, "-e", "dev", "--journal", "--json").stdout
    marks = [e for e in json.loads(journal) if e["event"] == "mark"]
    assert len(marks) == 1 and marks[0]["detail"]["why"] == WHY


def test_a_mark_makes_an_earlier_saved_plan_stale(cli, project: Path) -> None:
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    assert cli("plan", SPEC, "-e", "dev", "--out", "plan.json").returncode == 0
    mark_dev(project)
    stale = cli("apply", "plan.json")
    assert stale.returncode == 1 and "state changed since the plan was made" in stale.stderr


def test_unmark_clears_a_false_alarm(cli, project: Path) -> None:
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    mark_dev(project)
    cleared = cli("state", "unmark", SPEC, "-e", "dev", "finetune.support-bot")
    assert cleared.returncode == 0, cleared.stdout + cleared.stderr
    assert cli("plan", SPEC, "-e", "dev", "--detailed-exitcode").returncode == 0
    twice = cli("state", "unmark", SPEC, "-e", "dev", "finetune.support-bot")
    assert twice.returncode == 1 and "LS623" in twice.stderr and "is not marked" in twice.stderr
    unknown = cli("state", "unmark", SPEC, "-e", "dev", "finetune.support-bots")
    assert unknown.returncode == 1 and "LS471" in unknown.stderr
    assert "did you mean `finetune.support-bot`" in unknown.stderr
    events = [e["event"] for e in json.loads(
        cli("state", "show", SPEC, "-e", "dev", "--journal", "--json").stdout)]  # fmt: skip
    assert events[-2:] == ["mark", "unmark"]


def test_a_rebuild_stopped_halfway_is_finished_by_the_next_apply(cli, project: Path) -> None:
    """The fine-tune is rebuilt, then the package fails: the fine-tune's mark is gone with its
    rebuild, and the digests are unchanged, yet the next plan still packages the new model."""
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    mark_dev(project)
    failed = cli("apply", SPEC, "-e", "dev", env={"LLMSPEC_FAKE_FAIL": "package.support-bot"})
    assert failed.returncode == 1
    plan = plan_json(cli)
    assert changed(plan) == {  # apply marked them before it began
        "package.support-bot": "replace",
        "eval.support-bot": "replace",
        "promote.support-bot@dev": "replace",
    }
    package = next(c for c in plan["changes"] if c["address"] == "package.support-bot")
    assert package["reasons"][0]["code"] == "marked"
    assert package["reasons"][0]["what"] == "upstream finetune.support-bot is rebuilt"
    before = runs(project)
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    ran = runs(project)[len(before) :]
    assert "start package.support-bot" in ran and "start finetune.support-bot" not in ran
    assert cli("plan", SPEC, "-e", "dev", "--detailed-exitcode").returncode == 0


def test_a_marked_rebuild_leaves_the_shared_artifact_folder_alone(cli, project: Path) -> None:
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    state = project / ".llmspec/state/support-bot/dev/state.json"
    digest = json.loads(state.read_text())["resources"]["finetune.support-bot"]["inputs_digest"]
    folder = project / ".llmspec/artifacts/support-bot/finetune" / digest.split(":")[-1]
    record = (folder / "record.json").read_text()
    mark_dev(project)
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    assert (folder / "record.json").read_text() == record  # another env's reuse stays as built
    rebuilt = sorted(p.name for p in folder.parent.iterdir() if p.name != folder.name)
    assert len(rebuilt) == 1 and rebuilt[0].startswith(folder.name + "-")


def test_a_targeted_rebuild_leaves_its_dependents_marked_for_the_next_plan(
    cli, project: Path
) -> None:
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    mark_dev(project)
    assert cli("apply", SPEC, "-e", "dev", "--target", "finetune.support-bot").returncode == 0
    assert changed(plan_json(cli)) == {
        "package.support-bot": "replace",
        "eval.support-bot": "replace",
        "promote.support-bot@dev": "replace",
    }
