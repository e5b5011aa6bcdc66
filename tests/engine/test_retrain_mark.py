"""A retraining mark (what a firing `action: retrain` alert leaves): the next plan rebuilds the
fine-tune from the same inputs and updates what depends on it; the apply that rebuilds it clears
the mark; `state unmark` clears a false alarm. The plan's engine is real, the steps are fakes."""

from __future__ import annotations

import json
from pathlib import Path

from llmspec.api import resolve
from llmspec.retrain import mark
from llmspec.workspace import open_workspace
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
    assert twice.returncode == 1 and "is not marked" in twice.stdout
    events = [e["event"] for e in json.loads(
        cli("state", "show", SPEC, "-e", "dev", "--journal", "--json").stdout)]  # fmt: skip
    assert events[-2:] == ["mark", "unmark"]
