"""The example spec's dev loop, for real: `llmspec apply` builds the index, renders every
training record through the app prompt with retrieved context, `accelerate launch`es LoRA
training of the built-in model (tracked in a sqlite-backed MLflow), packages, evaluates, gates
and promotes; then the gate that fails and the rollback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.example.support import llmspec, outputs

pytestmark = pytest.mark.slow
pytest.importorskip("peft")
pytest.importorskip("mlflow")

QUESTION = "Who can change the billing contact?"


def test_the_mlflow_run_has_the_recipe_falling_loss_and_lineage(applied: dict[str, Any]) -> None:
    from mlflow import MlflowClient

    tuned = outputs(applied, "finetune.support-bot")
    client = MlflowClient(tracking_uri=tuned["tracking_uri"])
    run = client.get_run(tuned["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["method"] == "lora"
    assert run.data.params["lora.target_modules"] == "all-linear"
    assert run.data.params["training.learning_rate"] == "0.003"
    tags = run.data.tags
    assert tags["llmspec.dataset.train.digest"] == outputs(applied, "dataset.train")["file_digest"]
    assert (
        tags["llmspec.inputs_digest"]
        == applied["state"]["resources"]["finetune.support-bot"]["inputs_digest"]
    )
    assert tags["llmspec.spec_digest"].startswith("sha256:")
    assert tags["llmspec.index_version"] == str(outputs(applied, "index.help_center")["version"])
    assert tags["llmspec.model_digest"] == tuned["model_digest"]
    losses = [m.value for m in client.get_metric_history(run.info.run_id, "loss")]
    assert len(losses) == tuned["steps"] == 150
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10 - 0.5
    for metric in (
        "lr",
        "tokens_per_s",
        "eval_loss",
        "probe_rouge_l_before",
        "probe_rouge_l_after",
    ):
        assert metric in run.data.metrics, metric
    files = {f.path for f in client.list_artifacts(run.info.run_id, "model")}
    assert "model/adapter_model.safetensors" in files and "model/tokenizer.json" in files


def test_training_answers_beat_the_untrained_model(applied: dict[str, Any]) -> None:
    probe = outputs(applied, "finetune.support-bot")["probe"]
    assert probe["after"]["rouge_l"] > probe["before"]["rouge_l"] + 0.3
    assert probe["changed"] > 0
    assert "training answers ROUGE-L" in applied["out"]


def test_the_adapter_loads_with_peft_and_changes_the_outputs(applied: dict[str, Any]) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tuned = outputs(applied, "finetune.support-bot")
    repo = applied["repo"]
    base_dir, adapter_dir = repo / tuned["base_model"], repo / tuned["adapter_dir"]
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)
    ids = tokenizer("### Question\nWhen are invoices issued?\n### Answer\n", return_tensors="pt")
    base = AutoModelForCausalLM.from_pretrained(base_dir).eval()
    with torch.no_grad():
        before = base(**ids).logits
        model = PeftModel.from_pretrained(base, adapter_dir).eval()
        after = model(**ids).logits
    assert (after - before).abs().max().item() > 0.1


def test_records_were_rendered_through_the_app_prompt_with_context(applied: dict[str, Any]) -> None:
    tuned = outputs(applied, "finetune.support-bot")
    work = applied["repo"] / tuned["adapter_dir"] / ".."
    first = json.loads((work / "examples.jsonl").read_text().splitlines()[0])
    prompt = first["messages"][0]["content"]
    assert prompt.startswith("You answer questions about the product using only the context.")
    assert "### Context\n- # Resetting your password" in prompt  # retrieved from the index
    assert prompt.endswith("### Question\nHow do I reset my password?\n### Answer\n")
    # the job apply launched is the one `render` writes
    rendered = applied["repo"] / "build" / "support-bot" / "dev" / "finetune" / "job.json"
    assert rendered.read_text() == (work / "job.json").read_text()
    assert not (work / "checkpoints").exists()  # removed once the model is saved


def test_a_second_plan_has_nothing_to_do(applied: dict[str, Any]) -> None:
    again = llmspec(
        "plan",
        "specs/support-bot.yaml",
        "-e",
        "dev",
        "--target",
        "promote.support-bot@dev",
        "--detailed-exitcode",
        cwd=applied["repo"],
    )
    assert again.returncode == 0, again.stdout


def test_the_package_is_a_registered_pyfunc_that_answers_with_sources(
    applied: dict[str, Any],
) -> None:
    import mlflow
    from mlflow import MlflowClient

    package = outputs(applied, "package.support-bot")
    tuned = outputs(applied, "finetune.support-bot")
    client = MlflowClient(tracking_uri=package["tracking_uri"])
    version = client.get_model_version("support-bot", package["version"])
    assert version.description == "Answers product questions from the help-center articles."
    assert version.tags["llmspec.upstream.finetune.support-bot.run_id"] == tuned["run_id"]
    assert version.tags["llmspec.index_version"] == str(
        outputs(applied, "index.help_center")["version"]
    )
    assert version.tags["card.capabilities"] == '["question-answering", "summarization"]'
    mlflow.set_tracking_uri(package["tracking_uri"])
    model = mlflow.pyfunc.load_model(package["version_uri"])
    assert [c.name for c in model.metadata.get_input_schema().inputs] == ["question"]
    requirements = Path(mlflow.pyfunc.get_model_dependencies(package["version_uri"])).read_text()
    for library in ("torch==", "transformers==", "peft==", "lancedb==", "mlflow=="):
        assert library in requirements, requirements
    import pandas as pd

    questions = ["Who can change the billing contact?", "How do I invite a member?"]
    answers = model.predict(pd.DataFrame({"question": questions}), params={"max_new_tokens": 16})
    assert len(answers) == 2
    first = answers.iloc[0]
    assert first["answer"] == "Only owners."  # a training answer, learned
    assert any(s.endswith("billing/invoices.md") for s in first["sources"])
    assert 0 < first["tokens_out"] <= 16 and first["latency_ms"] > 0


def test_the_version_is_evaluated_gated_and_promoted(applied: dict[str, Any]) -> None:
    from mlflow import MlflowClient

    evaluated = outputs(applied, "eval.support-bot")
    promoted = outputs(applied, "promote.support-bot@dev")
    package = outputs(applied, "package.support-bot")
    assert evaluated["metrics"]["retrieval_recall@4"]["n"] == 10
    assert evaluated["metrics"]["rouge_l"]["value"] >= 0.3
    assert promoted["version"] == package["version"] and promoted["previous"] is None
    assert {g["gate"] for g in promoted["gates"]} >= {"rouge_l >= 0.3", "retrieval_recall@4 >= 0.8"}
    client = MlflowClient(tracking_uri=package["tracking_uri"])
    assert (
        str(client.get_model_version_by_alias("support-bot", "dev").version) == package["version"]
    )
    run = client.get_run(evaluated["run_id"])
    assert run.data.metrics["retrieval_recall_at_4"] == 1.0
    assert "retrieval_recall_at_4_ci_low" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "eval")}
    assert "eval/golden.json" in artifacts  # the per-example table
    version = client.get_model_version("support-bot", package["version"])
    assert version.tags["llmspec.eval_run_id"] == run.info.run_id
    assert "gate" in applied["out"] and "pass" in applied["out"]
    first = llmspec("rollback", "specs/support-bot.yaml", "-e", "dev", cwd=applied["repo"])
    assert first.returncode == 1 and "LS801" in first.stderr  # the first promotion: no earlier


def test_an_impossible_gate_keeps_the_alias_and_rejects_the_version(
    applied: dict[str, Any],
) -> None:
    """A prompt edit makes a new version (no retraining); a gate it cannot pass stops it."""
    from mlflow import MlflowClient

    repo = applied["repo"]
    before = outputs(applied, "promote.support-bot@dev")["version"]
    failed = llmspec(
        "apply", "specs/support-bot.yaml", "-e", "dev",
        "--set", "prompts.system='Answer briefly from the context.'",
        "--set", "evaluation.gates.0.value=0.99",
        "--set", "+evaluation.gates.0.bound=ci",
        cwd=repo,
    )  # fmt: skip
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "LS720" in failed.stderr and "FAIL" in failed.stdout
    assert "rouge_l >= 0.99" in failed.stdout and "finetune.support-bot" not in failed.stdout
    client = MlflowClient(tracking_uri=outputs(applied, "package.support-bot")["tracking_uri"])
    assert str(client.get_model_version_by_alias("support-bot", "dev").version) == before
    newest = max(int(v.version) for v in client.search_model_versions("name='support-bot'"))
    assert newest == int(before) + 1
    rejected = client.get_model_version("support-bot", str(newest)).tags
    assert rejected["llmspec.rejected"] == "true"
    assert "rouge_l >= 0.99" in rejected["llmspec.rejected_reasons"]


def test_rollback_moves_the_alias_back_to_the_previous_version(applied: dict[str, Any]) -> None:
    from mlflow import MlflowClient

    repo = applied["repo"]
    before = outputs(applied, "promote.support-bot@dev")["version"]
    # a new version that answers as the last one (the prompt it was trained on is unchanged)
    edit = ["--set", "+serving.limits={max_new_tokens: 512}"]
    promoted = llmspec("apply", "specs/support-bot.yaml", "-e", "dev", *edit, cwd=repo)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    client = MlflowClient(tracking_uri=outputs(applied, "package.support-bot")["tracking_uri"])
    newest = str(client.get_model_version_by_alias("support-bot", "dev").version)
    assert newest != before
    back = llmspec("rollback", "specs/support-bot.yaml", "-e", "dev", *edit, cwd=repo)
    assert back.returncode == 0, back.stderr
    assert back.stdout.strip() == f"support-bot@dev: version {newest} → {before}"
    assert str(client.get_model_version_by_alias("support-bot", "dev").version) == before
    journal = llmspec("state", "show", "specs/support-bot.yaml", "-e", "dev", "--journal", cwd=repo)
    assert "rollback" in journal.stdout


def test_a_pass_rate_gate_samples_each_example_and_is_held_over_the_samples(
    applied: dict[str, Any], tmp_path: Path
) -> None:
    """Sampled decoding, three samples per example, a pass rate no model reaches: the gate
    table shows the pass rate, and the alias stays."""
    from mlflow import MlflowClient

    repo = applied["repo"]
    client = MlflowClient(tracking_uri=outputs(applied, "package.support-bot")["tracking_uri"])
    before = str(client.get_model_version_by_alias("support-bot", "dev").version)
    failed = llmspec(
        "apply", "specs/support-bot.yaml", "-e", "dev",
        "--set", "+model.generation={temperature: 0.8}",
        "--set", "evaluation.gates.0.value=0.95",
        "--set", "+evaluation.gates.0.repeats=3",
        "--set", "+evaluation.gates.0.pass_rate=1.0",
        cwd=repo,
    )  # fmt: skip
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "rouge_l >= 0.95, pass rate over 3 samples" in failed.stdout and "LS720" in failed.stderr
    assert str(client.get_model_version_by_alias("support-bot", "dev").version) == before
    shown = llmspec("state", "show", "specs/support-bot.yaml", "-e", "dev", "--json", cwd=repo)
    evaluated = json.loads(shown.stdout)["resources"]["eval.support-bot"]["outputs"]
    assert evaluated["repeats"] == 3
    scores = json.loads((repo / evaluated["scores_file"]).read_text())
    assert {len(v) for v in scores["samples"]["rouge_l"].values()} == {3}
    local = client.download_artifacts(evaluated["run_id"], "eval/golden.json", str(tmp_path))
    table = json.loads(Path(local).read_text())  # MLflow's table: columns and rows
    samples = [row[table["columns"].index("sample")] for row in table["data"]]
    assert len(samples) == 30 and sorted(set(samples)) == [0, 1, 2]
    answers: dict[str, set[str]] = {}
    for row in table["data"]:
        answers.setdefault(row[0], set()).add(row[table["columns"].index("answer")])
    assert any(len(a) > 1 for a in answers.values())  # sampled, not three greedy copies


def test_an_approved_plan_promotes_and_the_version_names_its_approver(
    applied: dict[str, Any],
) -> None:
    """With approvals required, only the approved plan applies; the registry keeps who."""
    from mlflow import MlflowClient

    repo = applied["repo"]
    needs = ["--set", "governance.approvals=1"]
    refused = llmspec("apply", "specs/support-bot.yaml", "-e", "dev", *needs, cwd=repo)
    assert refused.returncode == 1 and "LS605" in refused.stderr
    saved = llmspec("plan", "specs/support-bot.yaml", "-e", "dev", *needs, "--out", "plan.json",
                    cwd=repo)  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    approved = llmspec("approve", "plan.json", cwd=repo, env={"LLMSPEC_USER": "alice"})
    assert approved.returncode == 0, approved.stderr
    done = llmspec("apply", "plan.json", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    client = MlflowClient(tracking_uri=outputs(applied, "package.support-bot")["tracking_uri"])
    version = client.get_model_version_by_alias("support-bot", "dev")
    assert version.tags["llmspec.approved_by.dev"] == "alice"


def test_audit_shows_applies_promotions_rejections_and_the_rollback(
    applied: dict[str, Any],
) -> None:
    done = llmspec("audit", "specs/support-bot.yaml", "-e", "dev", "--format", "json",
                   cwd=applied["repo"])  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = json.loads(done.stdout)
    kinds = {e["event"] for e in events}
    assert {"apply-started", "apply-finished", "version-registered", "promoted"} <= kinds
    assert {"rejected", "rollback", "rolled-back-from"} <= kinds  # from the tests above
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    rejected = " ".join(e["what"] for e in events if e["event"] == "rejected")
    assert "rouge_l >= 0.99" in rejected
    finished = [e for e in events if e["event"] == "apply-finished"]
    assert all("plan sha256:" in e["what"] for e in finished)
    approval = next(e for e in events if e["event"] == "approve")
    assert approval["who"].startswith("alice@")
    promoted = [e["what"] for e in events if e["event"] == "promoted"]
    assert any(w.endswith("approved by alice") for w in promoted)


def test_try_runs_edits_beside_the_served_answer_without_applying_them(
    applied: dict[str, Any],
) -> None:
    from mlflow import MlflowClient

    repo = applied["repo"]

    def serial() -> int:
        shown = llmspec("state", "show", "specs/support-bot.yaml", "-e", "dev", "--json", cwd=repo)
        return int(json.loads(shown.stdout)["serial"])

    before = serial()
    done = llmspec(
        "try", "specs/support-bot.yaml", "-e", "dev", QUESTION,
        "--set", "prompts.system='Answer briefly.'", "--set", "retrieval.top_k=2",
        "--format", "json", cwd=repo,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    tried = json.loads(done.stdout)
    (attempt,) = tried["attempts"]
    assert attempt["current_answer"] == "Only owners."  # the version @dev serves
    assert len(attempt["sources"]) == 2 and len(attempt["current_sources"]) == 4
    assert "Answer briefly." in attempt["prompt"]
    assert serial() == before  # nothing applied
    client = MlflowClient(tracking_uri=outputs(applied, "package.support-bot")["tracking_uri"])
    run = client.get_run(tried["run_id"])
    assert run.data.params["set.1"] == "retrieval.top_k=2"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "llmspec/support-bot/dev/sandbox"
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"try.json", "prompts"}

    # another model on the edited side: a registered version, a base model without the adapter
    first = llmspec("try", "specs/support-bot.yaml", "-e", "dev", QUESTION, "--model",
                    "models:/support-bot/1", "--format", "json", cwd=repo)  # fmt: skip
    assert first.returncode == 0, first.stderr
    tried = json.loads(first.stdout)
    assert tried["model"] == "models:/support-bot/1"
    assert tried["attempts"][0]["answer"] == "Only owners."  # version 1 learned it as well
    assert client.get_run(tried["run_id"]).data.params["model"] == "models:/support-bot/1"
    base = llmspec("try", "specs/support-bot.yaml", "-e", "dev", QUESTION, "--model",
                   "builtin:tiny-gpt2", "--format", "json", cwd=repo)  # fmt: skip
    assert base.returncode == 0, base.stderr
    (untrained,) = json.loads(base.stdout)["attempts"]
    assert untrained["answer"] != untrained["current_answer"] == "Only owners."
    wrong = llmspec("try", "specs/support-bot.yaml", "-e", "dev", QUESTION, "--model", "gpt-9",
                    cwd=repo)  # fmt: skip
    assert (
        wrong.returncode == 1 and "LS850" in wrong.stderr and "models:/NAME/VERSION" in wrong.stderr
    )
    missing = llmspec("try", "specs/support-bot.yaml", "-e", "dev", QUESTION, "--model",
                      "models:/support-bot/999", cwd=repo)  # fmt: skip
    assert missing.returncode == 1 and "LS850" in missing.stderr
    assert "Traceback" not in missing.stderr
