"""Approvals bound to a plan: prod (governance.approvals: 1 in the example) applies only a plan
that was approved as it stands, and the journal and audit keep who approved what."""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.conftest import SPEC

ALICE, BOB = {"LLMSPEC_USER": "alice"}, {"LLMSPEC_USER": "bob"}


def journal(cli, env: str = "prod") -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    result = cli("state", "show", SPEC, "-e", env, "--journal", "--json")
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_prod_apply_needs_an_approval_of_the_same_plan(cli) -> None:
    refused = cli("apply", SPEC, "-e", "prod")
    assert refused.returncode == 1
    assert "LS605" in refused.stderr and "it has none" in refused.stderr
    assert "llmspec approve plan.json" in refused.stderr
    assert journal(cli) == []  # nothing started

    assert cli("plan", SPEC, "-e", "prod", "--out", "plan.json").returncode == 0
    approved = cli("approve", "plan.json", "--comment", "looks right", env=ALICE)
    assert approved.returncode == 0, approved.stderr
    assert "Approved by alice" in approved.stdout and "1 of the 1 approval(s)" in approved.stdout
    assert "Plan for support-bot in prod" in approved.stdout  # it shows what it approves
    assert "+ finetune.support-bot" in approved.stdout and "Plan: 12 to create" in approved.stdout

    applied = cli("apply", SPEC, "-e", "prod")  # the same plan, planned again: approved
    assert applied.returncode == 0, applied.stderr
    events = journal(cli)
    assert [e["event"] for e in events] == ["approve", "apply-started", "apply-finished"]
    assert events[0]["who"] == "alice" and events[0]["detail"]["comment"] == "looks right"
    assert events[0]["plan_digest"] == events[1]["plan_digest"]
    assert events[1]["detail"]["approved_by"] == ["alice"]

    audit = cli("audit", SPEC, "-e", "prod").stdout
    assert "approve" in audit and "alice" in audit and "'looks right'" in audit
    assert "approved by alice" in audit


def test_an_approval_does_not_carry_over_to_a_changed_plan(cli, project: Path) -> None:
    assert cli("plan", SPEC, "-e", "prod", "--out", "plan.json").returncode == 0
    assert cli("approve", "plan.json", env=ALICE).returncode == 0
    spec = project / SPEC
    spec.write_text(spec.read_text().replace("### Answer", "### Answer (be brief)"))
    refused = cli("apply", SPEC, "-e", "prod")
    assert refused.returncode == 1 and "LS605" in refused.stderr
    assert "approvals recorded for other plans do not count" in refused.stderr
    stale = cli("apply", "plan.json")
    assert stale.returncode == 1 and "LS604" in stale.stderr  # the saved plan itself is stale
    late = cli("approve", "plan.json", env=BOB)  # nor can the old plan be approved now
    assert late.returncode == 1 and "stale" in late.stderr
    assert [e["who"] for e in journal(cli) if e["event"] == "approve"] == ["alice"]


def test_a_policy_asking_two_approvers_counts_people_not_approvals(cli, project: Path) -> None:
    (project / "llmspec-policy.yaml").write_text(
        "apiVersion: llmspec/v1\nkind: Policy\nenvironments:\n  prod: {approvals: 2}\n"
    )
    assert cli("plan", SPEC, "-e", "prod", "--out", "plan.json").returncode == 0
    assert cli("approve", "plan.json", env=ALICE).returncode == 0
    again = cli("approve", "plan.json", env=ALICE)
    assert "1 of the 2 approval(s) apply needs (alice)" in again.stdout
    refused = cli("apply", "plan.json")
    assert refused.returncode == 1 and "it has 1 (alice)" in refused.stderr
    both = cli("approve", SPEC, "-e", "prod", "--plan", "plan.json", env=BOB)
    assert both.returncode == 0 and "2 of the 2" in both.stdout
    assert cli("apply", "plan.json").returncode == 0


def test_approve_refuses_what_it_cannot_bind_to(cli, project: Path) -> None:
    missing = cli("approve", "nowhere.json")
    assert missing.returncode == 1 and "LS609" in missing.stderr
    no_plan = cli("approve", SPEC, "-e", "prod")
    assert no_plan.returncode == 1 and "LS609" in no_plan.stderr
    (project / "not-a-plan.json").write_text('{"hello": 1}')
    bad = cli("approve", "not-a-plan.json")
    assert bad.returncode == 1 and "LS609" in bad.stderr
    assert cli("plan", SPEC, "-e", "prod", "--out", "plan.json").returncode == 0
    other_env = cli("approve", SPEC, "-e", "staging", "--plan", "plan.json")
    assert other_env.returncode == 1 and "LS604" in other_env.stderr
    assert journal(cli) == []


def test_approvals_live_in_the_shared_state(cli, project: Path) -> None:
    url = f"sqlite:///{project / 'team.db'}"
    assert cli("plan", SPEC, "-e", "prod", "--state", url, "--out", "plan.json").returncode == 0
    assert cli("approve", "plan.json", "--state", url, env=ALICE).returncode == 0
    local = cli("apply", SPEC, "-e", "prod")  # the local state has no approval (nor this plan)
    assert local.returncode == 1 and "LS605" in local.stderr
    shared = cli("apply", "plan.json", "--state", url)
    assert shared.returncode == 0, shared.stderr
