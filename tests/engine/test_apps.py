"""`plan DIR` and `apply DIR`: every app below a folder in one report (engine/apps.py), with the
example's three apps and the fake steps."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import MINIMAL


def test_one_plan_for_every_app_with_a_section_each(cli) -> None:
    done = cli("plan", "specs", "-e", "staging", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    apps = [p["app"] for p in payload["apps"]]
    assert apps == ["docs-assistant", "support-bot"]  # overlay files go with their spec
    assert payload["skipped"] == [
        {"spec": "specs/ticket-triage.yaml", "app": "ticket-triage",
         "reason": "no environment `staging`"},
    ]  # fmt: skip
    total = sum(p["summary"]["create"] for p in payload["apps"])
    assert payload["summary"]["create"] == total and payload["summary"]["apps"] == 2

    text = cli("plan", "specs", "-e", "staging").stdout
    assert (
        "Plan for docs-assistant in staging" in text and "Plan for support-bot in staging" in text
    )
    assert "Skipped ticket-triage (specs/ticket-triage.yaml): no environment `staging`" in text
    assert text.rstrip().endswith(f"Plan: {total} to create, 0 unchanged.")

    comment = cli("plan", "specs", "-e", "staging", "--format", "markdown").stdout
    assert comment.startswith("### llmspec plan: 2 app(s) in `staging`")
    assert "| `support-bot` | 12 |" in comment
    assert comment.count("<summary><code>") == 2
    assert cli("plan", "specs", "-e", "staging", "--detailed-exitcode").returncode == 2


def test_targets_name_a_resource_in_every_app_or_in_one(cli) -> None:
    every = json.loads(
        cli("plan", "specs", "-e", "prod", "--target", "deploy.mlflow", "--json").stdout
    )
    assert [p["app"] for p in every["apps"]] == ["docs-assistant", "support-bot"]
    one = json.loads(
        cli("plan", "specs", "-e", "prod", "--target", "support-bot/dataset.train", "--json").stdout
    )
    assert [(p["app"], p["targets"]) for p in one["apps"]] == [("support-bot", ["dataset.train"])]
    unknown = cli("plan", "specs", "-e", "prod", "--target", "support-bot/index.nope")
    assert unknown.returncode == 1 and "LS471" in unknown.stderr


def test_an_invalid_app_fails_the_whole_plan_with_its_diagnostic(cli, project: Path) -> None:
    (project / "specs" / "broken.yaml").write_text(
        MINIMAL.replace("tiny-gpt2", "tiny-gtp2"), encoding="utf-8"
    )
    done = cli("plan", "specs")
    assert done.returncode == 1
    assert "LS204" in done.stderr and "specs/broken.yaml" in done.stderr
    assert "Plan for" not in done.stdout


def test_yaml_that_is_no_app_is_not_planned(cli, project: Path) -> None:
    (project / "specs" / "notes.yaml").write_text("kind: Notes\nitems: [1, 2]\n", encoding="utf-8")
    done = cli("plan", "specs", "-e", "prod", "--json")
    assert done.returncode == 0, done.stderr
    assert "notes" not in {p["app"] for p in json.loads(done.stdout)["apps"]}
    empty = project / "empty"
    empty.mkdir()
    nothing = cli("plan", "empty")
    assert nothing.returncode == 1 and "no app spec" in nothing.stderr


def test_apply_every_app_then_nothing_to_do(cli) -> None:
    done = cli("apply", "specs", "-e", "staging")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok     docs-assistant:" in done.stdout and "ok     support-bot:" in done.stdout
    assert "skip   ticket-triage" in done.stdout
    assert "Apply complete: 2 app(s), 0 failed." in done.stdout
    again = cli("plan", "specs", "-e", "staging", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout
    assert "Apps: 2 app(s), 0 with changes, 1 skipped." in again.stdout


def test_a_folder_takes_no_saved_plan(cli) -> None:
    done = cli("plan", "specs", "-e", "prod", "--out", "plan.json")
    assert (
        done.returncode == 1 and "LS001" in done.stderr and "one spec, not a folder" in done.stderr
    )
