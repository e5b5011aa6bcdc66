"""plan/apply on the example spec: create, no-op, and exactly the downstream of an edit."""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.conftest import SPEC, runs


def plan_json(cli, env: str = "dev", *extra: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = cli("plan", SPEC, "-e", env, "--json", *extra)
    assert result.returncode in (0, 2), result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def changed(plan: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {c["address"]: c["action"] for c in plan["changes"] if c["action"] != "no-op"}


def test_first_apply_creates_everything_then_nothing_changes(cli_process, project: Path) -> None:
    cli = cli_process  # the whole cycle once through real processes, as CI runs it
    first = plan_json(cli)
    assert first["format_version"] == 1
    assert set(changed(first).values()) == {"create"}
    assert len(first["changes"]) == 12
    result = cli("apply", SPEC, "-e", "dev")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Apply complete: 12 of 12" in result.stdout
    state = json.loads((project / ".llmspec/state/support-bot/dev/state.json").read_text())
    assert len(state["resources"]) == 12
    assert all(r["status"] == "complete" for r in state["resources"].values())
    assert (project / "build/support-bot/dev/deploy/kserve/inferenceservice.yaml").is_file()
    before = runs(project)
    again = cli("plan", SPEC, "-e", "dev", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout
    assert "No changes" in again.stdout
    second = cli("apply", SPEC, "-e", "dev")
    assert second.returncode == 0 and "No changes" in second.stdout
    assert runs(project) == before  # no step ran


def test_prompt_edit_updates_package_eval_promotion_only(cli, project: Path) -> None:
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    spec = project / SPEC
    spec.write_text(spec.read_text().replace("### Answer", "### Answer (be brief)"))
    plan = plan_json(cli)
    assert changed(plan) == {
        "package.support-bot": "update",
        "eval.support-bot": "update",
        "promote.support-bot@dev": "update",
    }
    package = next(c for c in plan["changes"] if c["address"] == "package.support-bot")
    assert package["reasons"][0]["code"] == "config_changed"
    assert package["reasons"][0]["what"] == "prompts.templates.answer.template"
    text = cli("plan", SPEC, "-e", "dev").stdout
    assert "prompts.templates.answer.template:" in text
    assert cli("plan", SPEC, "-e", "dev", "--detailed-exitcode").returncode == 2


def test_corpus_edit_updates_index_and_downstream_not_finetune(cli, project: Path) -> None:
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    doc = project / "specs/data/support-bot/help-center/billing/invoices.md"
    doc.write_text(doc.read_text() + "\nInvoices can also be sent to a second address.\n")
    plan = plan_json(cli)
    assert changed(plan) == {
        "index.help_center": "update",
        "package.support-bot": "update",
        "eval.support-bot": "update",
        "promote.support-bot@dev": "update",
    }
    index = next(c for c in plan["changes"] if c["address"] == "index.help_center")
    assert index["reasons"] == [
        {
            "code": "input_file_changed",
            "what": "data/support-bot/help-center/billing/invoices.md",
            "old": index["reasons"][0]["old"],
            "new": index["reasons"][0]["new"],
        }
    ]
    package = next(c for c in plan["changes"] if c["address"] == "package.support-bot")
    assert [r["code"] for r in package["reasons"]] == ["upstream_changed"]
    result = cli("apply", SPEC, "-e", "dev")
    assert result.returncode == 0
    assert "start finetune.support-bot" not in runs(project)[-8:]


def test_chunking_change_replaces_the_index(cli) -> None:
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    plan = plan_json(cli, "dev", "--set", "retrieval.chunking.size=128")
    assert changed(plan)["index.help_center"] == "replace"


def test_markdown_plan_for_a_pull_request(cli) -> None:
    result = cli("plan", SPEC, "-e", "dev", "--format", "markdown")
    assert result.returncode == 0
    assert result.stdout.startswith("### llmspec plan: `support-bot` in `dev`")
    assert "| `+` | `index.help_center` | create |" in result.stdout
    assert "<details>" in result.stdout


def test_target_limits_to_the_resource_and_what_it_needs(cli) -> None:
    plan = plan_json(cli, "dev", "--target", "package.support-bot")
    assert set(changed(plan)) == {
        "dataset.train",
        "dataset.validation",
        "index.help_center",
        "finetune.support-bot",
        "package.support-bot",
    }
    bad = cli("plan", SPEC, "-e", "dev", "--target", "index.help_centre")
    assert bad.returncode == 1 and "did you mean `index.help_center`?" in bad.stderr


def test_saved_plan_applies_only_while_fresh(cli, project: Path) -> None:
    assert cli("plan", SPEC, "-e", "dev", "--out", "plan.json").returncode == 0
    assert cli("apply", "plan.json").returncode == 0
    spec = project / SPEC
    spec.write_text(spec.read_text().replace("### Answer", "### Answer:"))
    assert cli("plan", SPEC, "-e", "dev", "--out", "plan.json").returncode == 0
    spec.write_text(spec.read_text().replace("### Answer:", "### Reply:"))
    stale = cli("apply", "plan.json")
    assert stale.returncode == 1 and "LS604" in stale.stderr and "stale" in stale.stderr


def test_removed_target_is_deleted(cli, project: Path) -> None:
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    manifest = project / "build/support-bot/dev/deploy/kserve/inferenceservice.yaml"
    assert manifest.is_file()
    spec = project / SPEC
    text = spec.read_text()
    start = text.index("    - kind: kserve")
    end = text.index("    - kind: kubernetes")
    spec.write_text(text[:start] + text[end:])
    plan = plan_json(cli)
    assert changed(plan) == {"deploy.kserve": "delete"}
    assert plan["changes"][-1]["reasons"][0]["code"] == "removed"
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    assert not manifest.exists()


def test_failure_stops_dependents_and_resumes(cli, project: Path) -> None:
    failed = cli("apply", SPEC, "-e", "dev", env={"LLMSPEC_FAKE_FAIL": "finetune.support-bot"})
    assert failed.returncode == 1
    assert "planted failure" in failed.stderr
    assert "package.support-bot: skipped" in failed.stdout
    state = json.loads((project / ".llmspec/state/support-bot/dev/state.json").read_text())
    assert state["resources"]["index.help_center"]["status"] == "complete"
    assert state["resources"]["finetune.support-bot"]["status"] == "failed"
    before = runs(project)
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    rerun = runs(project)[len(before) :]
    assert "start index.help_center" not in rerun and "start finetune.support-bot" in rerun


def test_prod_reuses_what_staging_built(cli) -> None:
    assert cli("apply", SPEC, "-e", "staging").returncode == 0
    plan = plan_json(cli, "prod")
    reused = {c["address"]: c["reuse_from"] for c in plan["changes"] if c["action"] == "reuse"}
    assert reused == {
        "dataset.train": "staging",
        "dataset.validation": "staging",
        "dataset.eval-golden": "staging",
        "index.help_center": "staging",
        # prod's 16 GPUs keep staging's global batch: the same weights, trained once
        "finetune.support-bot": "staging",
        "package.support-bot": "staging",
        "eval.support-bot": "staging",
    }
    text = cli("plan", SPEC, "--from", "staging", "--to", "prod").stdout
    assert '~ serving.registry.alias: "challenger" → "champion"' in text
    assert "reuse (built in staging)" in text


def test_journal_and_state_commands(cli) -> None:
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    journal = cli("state", "show", SPEC, "-e", "dev", "--journal", "--json")
    events = [e["event"] for e in json.loads(journal.stdout)]
    assert events == ["apply-started", "apply-finished"]
    listing = cli("state", "list").stdout
    assert "support-bot  dev  serial 12  12 resource(s)" in listing
    one = json.loads(cli("state", "show", SPEC, "-e", "dev", "index.help_center").stdout)
    assert one["status"] == "complete" and one["files"]


def test_destroy_removes_what_apply_made(cli, project: Path) -> None:
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    result = cli("destroy", SPEC, "-e", "dev", "--yes")
    assert result.returncode == 0, result.stderr
    state = json.loads((project / ".llmspec/state/support-bot/dev/state.json").read_text())
    assert state["resources"] == {}
    assert not (project / "build/support-bot/dev/deploy/kserve/inferenceservice.yaml").exists()
    refused = cli("destroy", SPEC, "-e", "dev")
    assert refused.returncode == 0  # nothing left: nothing to confirm


def test_saved_targeted_plan_applies_its_targets(cli) -> None:
    assert (
        cli(
            "plan", SPEC, "-e", "dev", "--target", "index.help_center", "--out", "plan.json"
        ).returncode
        == 0
    )
    result = cli("apply", "plan.json")
    assert result.returncode == 0, result.stderr
    assert "Apply complete: 1 of 1" in result.stdout


def test_prod_apply_takes_staging_outputs_without_running(cli, project: Path) -> None:
    assert cli("apply", SPEC, "-e", "staging").returncode == 0
    before = runs(project)
    assert cli("plan", SPEC, "-e", "prod", "--out", "plan.json").returncode == 0
    assert cli("approve", "plan.json").returncode == 0
    assert cli("apply", "plan.json").returncode == 0
    ran = runs(project)[len(before) :]
    assert [r for r in ran if r.startswith("start")] == ["start promote.support-bot@champion"]
    state = json.loads((project / ".llmspec/state/support-bot/prod/state.json").read_text())
    assert state["resources"]["index.help_center"]["env_built"] == "staging"
    assert state["resources"]["finetune.support-bot"]["env_built"] == "staging"
    # another global batch (4 × 1 × 8 × 2 = 64, not 32) is other weights: prod trains its own
    other = plan_json(cli, "prod", "--set", "finetune.training.batch_size=4")
    actions = {c["address"]: c["action"] for c in other["changes"]}
    assert actions["finetune.support-bot"] == "update", actions


def test_saved_plan_is_stale_after_another_state_write(cli) -> None:
    assert cli("plan", SPEC, "-e", "dev", "--out", "plan.json").returncode == 0
    assert cli("apply", SPEC, "-e", "dev", "--target", "dataset.train").returncode == 0
    stale = cli("apply", "plan.json")
    assert stale.returncode == 1 and "state changed since the plan was made" in stale.stderr


def test_saved_plan_needs_the_same_state_backend(cli, project: Path) -> None:
    url = f"sqlite:///{project / 'team.db'}"
    assert cli("plan", SPEC, "-e", "dev", "--state", url, "--out", "plan.json").returncode == 0
    other = cli("apply", "plan.json")  # without --state: the local backend
    assert other.returncode == 1 and "LS604" in other.stderr
    assert cli("apply", "plan.json", "--state", url).returncode == 0


def test_failed_update_keeps_the_last_good_record(cli, project: Path) -> None:
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    path = project / ".llmspec/state/support-bot/dev/state.json"
    good = json.loads(path.read_text())["resources"]["package.support-bot"]
    manifest = project / "build/support-bot/dev/package/model.json"
    rendered = manifest.read_text()
    spec = project / SPEC
    spec.write_text(spec.read_text().replace("### Answer", "### Answer briefly"))
    failed = cli("apply", SPEC, "-e", "dev", env={"LLMSPEC_FAKE_FAIL": "package.support-bot"})
    assert failed.returncode == 1
    kept = json.loads(path.read_text())["resources"]["package.support-bot"]
    assert kept == good  # status complete, old digest and outputs
    assert manifest.read_text() == rendered  # build/ shows no artifact of the failed attempt


def test_deploy_settings_changes_update_the_deployment(cli, project: Path) -> None:
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    spec = project / SPEC
    spec.write_text(
        spec.read_text().replace(
            "namespace: support\n      replicas", "namespace: support-new\n      replicas"
        )
    )
    plan = plan_json(cli)
    assert changed(plan) == {"deploy.kserve": "update"}
    reason = (
        plan["changes"][-2]["reasons"][0]
        if plan["changes"][-2]["address"] == ("deploy.kserve")
        else next(c for c in plan["changes"] if c["address"] == "deploy.kserve")["reasons"][0]
    )
    assert reason["what"] == "settings.namespace"


def test_removed_dependency_is_named(cli, project: Path) -> None:
    assert cli("apply", SPEC, "-e", "dev").returncode == 0
    spec = project / SPEC
    spec.write_text(spec.read_text().replace("    validation: data/support-bot/valid.jsonl\n", ""))
    plan = plan_json(cli)
    finetune = next(c for c in plan["changes"] if c["address"] == "finetune.support-bot")
    assert {"code": "upstream_changed", "what": "dataset.validation"}.items() <= finetune[
        "reasons"
    ][-1].items()
    assert changed(plan)["dataset.validation"] == "delete"
